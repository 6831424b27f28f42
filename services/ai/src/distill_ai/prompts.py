"""Every prompt the AI stage sends, in one place, versioned.

Change the wording here and bump VERSION: the version is stored with each output
(ai_outputs.usage.prompt_version) and is part of the chunk-cache key, so results from
different prompts are never mixed. Prompts ask for one JSON object and describe its
keys; `schema()` gives the same shape as a JSON Schema for endpoints that take one.
"""

from __future__ import annotations

import json
from typing import Any

from distill_ai.results import Want

VERSION = "v1"

SYSTEM = (
    "You distil web pages for a reading list. You answer with one JSON object and nothing else: "
    "no Markdown, no code fences, no comments. Use only facts from the text you are given, "
    "and write in the language of that text."
)

RECIPE_KEYS = (
    "title",
    "ingredients",
    "instructions",
    "yields",
    "prep_time_minutes",
    "cook_time_minutes",
    "total_time_minutes",
    "description",
    "author",
    "cuisine",
    "category",
)

Messages = list[dict[str, str]]


def _field_lines(want: Want, *, part: bool = False) -> list[str]:
    lines = []
    if want.summary:
        what = "this part" if part else "the text"
        lines.append(f'- "summary": a summary of {what} in at most {want.summary_sentences + 1} sentences.')
    if want.keywords:
        lines.append(
            f'- "keywords": a list of at most {want.n_keywords} key phrases (one to three words each), '
            "most important first."
        )
    if want.insights and want.n_insights > 0:
        lines.append(
            f'- "insights": a list of at most {want.n_insights} key facts or takeaways, one short sentence each.'
        )
    return lines


def _text_block(text: str, title: str = "") -> str:
    head = f"Title: {title}\n" if title else ""
    return f'{head}Text:\n"""\n{text}\n"""'


def analyze(text: str, want: Want, *, title: str = "") -> Messages:
    """Summary, keywords and insights of a text that fits in one request."""
    body = "\n".join(
        [
            "Read the text below and answer with a JSON object with these keys:",
            *_field_lines(want),
            "",
            _text_block(text, title),
        ]
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": body}]


def analyze_part(text: str, want: Want, index: int, total: int, *, title: str = "") -> Messages:
    """The map step: one part of a long text."""
    body = "\n".join(
        [
            f"This is part {index} of {total} of a long text. Answer with a JSON object with these keys:",
            *_field_lines(want, part=True),
            "",
            _text_block(text, title if index == 1 else ""),
        ]
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": body}]


def combine(parts: list[dict[str, Any]], want: Want, *, title: str = "") -> Messages:
    """The reduce step: partial results of consecutive parts into one."""
    listing = json.dumps(parts, ensure_ascii=False, indent=0)
    body = "\n".join(
        [
            "Below are the summaries, keywords and insights of the consecutive parts of one text, as JSON.",
            "Combine them into one result for the whole text: a JSON object with these keys:",
            *_field_lines(want),
            "",
            f"Title: {title}" if title else "",
            f"Parts:\n{listing}",
        ]
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": body}]


def recipe(text: str, *, title: str = "") -> Messages:
    """A recipe from free text (an Instagram caption, a blog post without structured data)."""
    body = "\n".join(
        [
            "If the text below contains a cooking recipe, extract it. Answer with a JSON object with these keys:",
            '- "is_recipe": true if the text contains a recipe, else false (and leave the other keys empty).',
            '- "title": the name of the dish.',
            '- "ingredients": a list of strings, one ingredient each, with its quantity as written.',
            '- "instructions": a list of strings, one step each, in order.',
            '- "yields": how many servings or pieces, as written (e.g. "4 servings"), or "".',
            '- "prep_time_minutes", "cook_time_minutes", "total_time_minutes": whole numbers of minutes, '
            "0 if not given.",
            '- "description", "author", "cuisine", "category": short strings, "" if not given.',
            "",
            _text_block(text, title),
        ]
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": body}]


def repair(messages: Messages, answer: str, problem: str) -> Messages:
    """The one repair request: the conversation so far, the bad answer, and what is wrong with it."""
    return [
        *messages,
        {"role": "assistant", "content": answer[:4000]},
        {
            "role": "user",
            "content": f"That answer cannot be used: {problem}. Answer again with only the corrected JSON object, "
            "with exactly the keys asked for.",
        },
    ]


def schema(kind: str, want: Want | None = None) -> dict[str, Any]:
    """The JSON Schema of an answer ("analysis" or "recipe"), for response_format json_schema."""
    if kind == "recipe":
        props: dict[str, Any] = {"is_recipe": {"type": "boolean"}}
        for k in RECIPE_KEYS:
            if k in ("ingredients", "instructions"):
                props[k] = {"type": "array", "items": {"type": "string", "maxLength": 300}, "maxItems": 40}
            elif k.endswith("_minutes"):
                props[k] = {"type": "integer"}
            else:
                props[k] = {"type": "string", "maxLength": 300}
        return {"type": "object", "properties": props, "required": ["is_recipe", "ingredients", "instructions"]}
    want = want or Want()
    props = {}
    if want.summary:
        props["summary"] = {"type": "string", "minLength": 1, "maxLength": 200 * (want.summary_sentences + 1)}
    if want.keywords:
        props["keywords"] = {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 60},
            "maxItems": want.n_keywords,
        }
    if want.insights and want.n_insights > 0:
        props["insights"] = {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 300},
            "maxItems": want.n_insights,
        }
    return {"type": "object", "properties": props, "required": list(props)}
