"""Checking what a model answered against what was asked (BadOutput says what is wrong).

Lenient where the meaning is clear (a comma-separated string for a list, "key_points"
for "insights", an object wrapped in {"result": ...}), strict where it is not: a wanted
field that is missing, a summary that is empty or not text.
"""

from __future__ import annotations

import re
from typing import Any

from distill_ai import recipes
from distill_ai.extractive import content_words
from distill_ai.keywords import stem
from distill_ai.results import Analysis, Want

ALIASES = {
    "summary": ("summary", "abstract", "tldr", "summarization"),
    "keywords": ("keywords", "key_words", "keyphrases", "key_phrases", "tags", "topics"),
    "insights": ("insights", "key_points", "keypoints", "takeaways", "key_facts", "highlights"),
}
MAX_SUMMARY = 4000
MAX_KEYWORD = 80
MAX_INSIGHT = 500


class BadOutput(ValueError):
    """The answer is JSON but not the JSON asked for."""


def _unwrap(obj: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    if any(k in obj for k in keys) or len(obj) != 1:
        return obj
    inner = next(iter(obj.values()))
    return inner if isinstance(inner, dict) else obj


def _get(obj: dict[str, Any], field: str) -> tuple[bool, Any]:
    lowered = {str(k).lower().strip().replace(" ", "_").replace("-", "_"): v for k, v in obj.items()}
    for k in ALIASES[field]:
        if k in lowered:
            return True, lowered[k]
    return False, None


def _strings(v: Any, max_len: int) -> list[str]:
    if isinstance(v, str):
        v = [x for x in re.split(r"\n+|;\s*|,\s*(?![^()]*\))", v)] if "\n" in v or len(v) < 300 else [v]
    if not isinstance(v, list):
        raise BadOutput(f"expected a list of strings, got {type(v).__name__}")
    out: list[str] = []
    seen: set[str] = set()
    for x in v:
        if isinstance(x, dict):
            x = x.get("text") or x.get("keyword") or x.get("name") or x.get("insight") or ""
        if not isinstance(x, str | int | float) or isinstance(x, bool):
            continue
        s = " ".join(str(x).split()).strip(" -•*\"'")
        s = re.sub(r"^\d{1,2}[.)]\s+", "", s)
        if s and s.lower() not in seen and len(s) <= max_len:
            seen.add(s.lower())
            out.append(s)
    return out


def analysis(obj: dict[str, Any], want: Want) -> Analysis:
    """The Analysis in a model's JSON object (BadOutput when a wanted part is missing or unusable)."""
    obj = _unwrap(obj, tuple(k for keys in ALIASES.values() for k in keys))
    out = Analysis()
    missing = []
    if want.summary:
        found, v = _get(obj, "summary")
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            v = " ".join(v)
        if not found:
            missing.append("summary")
        elif not isinstance(v, str) or not v.strip():
            raise BadOutput('"summary" must be a non-empty string')
        else:
            out.summary = " ".join(v.split())[:MAX_SUMMARY]
    for field, n, max_len in (
        ("keywords", want.n_keywords if want.keywords else 0, MAX_KEYWORD),
        ("insights", want.n_insights if want.insights else 0, MAX_INSIGHT),
    ):
        if n <= 0:
            continue
        found, v = _get(obj, field)
        if not found:
            missing.append(field)
            continue
        try:
            setattr(out, field, _strings(v, max_len)[:n])
        except BadOutput as e:
            raise BadOutput(f'"{field}": {e}') from None
    if missing:
        raise BadOutput("missing " + ", ".join(f'"{m}"' for m in missing))
    return out


def _grounded(lines: list[str], source_stems: set[str]) -> list[str]:
    """The lines that share a word with the source text (the rest were made up)."""
    out = []
    for line in lines:
        stems = {stem(w) for w in content_words(line)}
        if not stems or stems & source_stems:
            out.append(line)
    return out


def recipe(obj: dict[str, Any], *, title: str = "", source: str | None = None) -> dict[str, Any] | None:
    """The recipe in a model's JSON object, or None when the model found none.

    With the source text given, ingredients and steps that share no word with it are
    dropped as invented, and without an ingredient left there is no recipe."""
    obj = _unwrap(obj, ("is_recipe", "ingredients", "instructions", "title"))
    if "recipe" in obj and isinstance(obj["recipe"], dict | type(None)) and "ingredients" not in obj:
        if obj["recipe"] is None:
            return None
        obj = obj["recipe"]
    if not any(k in obj for k in ("is_recipe", "ingredients", "instructions", "steps")):
        raise BadOutput('expected "is_recipe", "ingredients" and "instructions"')
    for k in ("ingredients", "instructions"):
        v = obj.get(k)
        if v is not None and not isinstance(v, list | str):
            raise BadOutput(f'"{k}" must be a list of strings')
    r = recipes.normalize(obj, title=title, source="ai")
    if r is not None and source is not None:
        stems = {stem(w) for w in content_words(source)}
        r["ingredients"] = _grounded(r["ingredients"], stems)
        r["instructions"] = _grounded(r["instructions"], stems)
        if not r["ingredients"]:
            return None
    return r
