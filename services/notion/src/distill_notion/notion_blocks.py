"""Notion block building: pure functions that honour the API's limits by construction.

Notion's documented request limits (developers.notion.com/reference/request-limits):

* a rich text object's `text.content` and `text.link.url`: at most 2,000 characters
  (counted as JavaScript counts them: UTF-16 code units, so an emoji counts twice);
* any array of rich text objects: at most 100 elements;
* one children array (create page, append block children): at most 100 blocks, and
  at most two levels of nesting in one request;
* one request: at most 1,000 block elements and 500 KB.

Everything here builds plain dicts (the JSON Notion expects); nothing does I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

MAX_TEXT = 2000
MAX_RICH_TEXT = 100
MAX_CHILDREN = 100
MAX_DEPTH = 2
MAX_BLOCK_ELEMENTS = 1000
MAX_PAYLOAD_BYTES = 500_000
MAX_URL = 2000
# What one request may carry, below Notion's 500 KB for headroom (the wrapper, properties).
PAYLOAD_BUDGET = 450_000
# Rich text elements in one body block: a long paragraph continues in the next block, so
# that no single block comes near the payload limit (10 x 2,000 characters x 4 bytes).
BLOCK_TEXT_ELEMENTS = 10
# A nested list keeps its children only while the group stays this small; beyond, the
# rest of the list continues at the top level.
GROUP_BUDGET = 100_000
ELLIPSIS = "…"

Block = dict[str, Any]


def utf16_len(s: str) -> int:
    """Length as Notion counts it (UTF-16 code units)."""
    return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)


def split_text(s: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut `s` into pieces of at most `limit` UTF-16 units, at a space when one is near the end."""
    if utf16_len(s) <= limit:
        return [s] if s else []
    out: list[str] = []
    start = 0
    n = len(s)
    while start < n:
        units = 0
        end = start
        while end < n:
            w = 2 if ord(s[end]) > 0xFFFF else 1
            if units + w > limit:
                break
            units += w
            end += 1
        if end < n:
            # Prefer a break after whitespace in the last tenth of the piece.
            cut = max(s.rfind(" ", start, end), s.rfind("\n", start, end))
            if cut >= start + (end - start) * 9 // 10:
                end = cut + 1
        out.append(s[start:end])
        start = end
    return out


def safe_url(url: str | None) -> str | None:
    """An http(s) URL Notion accepts (at most 2,000 characters), else None."""
    if not url:
        return None
    url = url.strip()
    if len(url) > MAX_URL or not re.match(r"^https?://[^\s]+$", url, re.I):
        return None
    return url


def rich_text(
    s: str,
    *,
    link: str | None = None,
    bold: bool = False,
    italic: bool = False,
    code: bool = False,
    max_elements: int = MAX_RICH_TEXT,
) -> list[dict[str, Any]]:
    """Rich text objects for `s`: one per 2,000 units, at most `max_elements` (the rest cut, with an ellipsis)."""
    pieces = split_text(s)
    if len(pieces) > max_elements:
        pieces = pieces[:max_elements]
        last = pieces[-1]
        pieces[-1] = (last[:-1] if utf16_len(last) >= MAX_TEXT else last) + ELLIPSIS
    url = safe_url(link)
    annotations = {k: True for k, on in (("bold", bold), ("italic", italic), ("code", code)) if on}
    out = []
    for p in pieces:
        text: dict[str, Any] = {"content": p}
        if url:
            text["link"] = {"url": url}
        obj: dict[str, Any] = {"type": "text", "text": text}
        if annotations:
            obj["annotations"] = dict(annotations)
        out.append(obj)
    return out


def _block(kind: str, payload: dict[str, Any]) -> Block:
    return {"object": "block", "type": kind, kind: payload}


def text_blocks(kind: str, s: str, **extra: Any) -> list[Block]:
    """Blocks of `kind` holding `s`: one block normally, more when the text is very long."""
    pieces = split_text(s)
    if not pieces:
        return []
    blocks = []
    for i in range(0, len(pieces), BLOCK_TEXT_ELEMENTS):
        rt = [{"type": "text", "text": {"content": p}} for p in pieces[i : i + BLOCK_TEXT_ELEMENTS]]
        blocks.append(_block(kind, {"rich_text": rt, **extra}))
    return blocks


def paragraph(s: str) -> list[Block]:
    return text_blocks("paragraph", s)


def heading(level: int, s: str) -> list[Block]:
    level = min(3, max(1, level))
    # A heading is one block: a very long one is cut (100 rich text elements at most).
    return [_block(f"heading_{level}", {"rich_text": rich_text(s, max_elements=BLOCK_TEXT_ELEMENTS)})]


def bulleted(s: str) -> list[Block]:
    return text_blocks("bulleted_list_item", s)


def numbered(s: str) -> list[Block]:
    return text_blocks("numbered_list_item", s)


def to_do(s: str, checked: bool = False) -> list[Block]:
    return text_blocks("to_do", s, checked=checked)


def quote(s: str) -> list[Block]:
    return text_blocks("quote", s)


def divider() -> Block:
    return _block("divider", {})


def link_paragraph(label: str, url: str) -> list[Block]:
    """`label` then the URL as a link (plain text when Notion would refuse it as a link)."""
    rt = rich_text(label, bold=True, max_elements=1) + rich_text(url, link=url, max_elements=MAX_RICH_TEXT - 1)
    return [_block("paragraph", {"rich_text": rt})]


# --- nesting and measuring -----------------------------------------------------------------


def children_of(block: Block) -> list[Block]:
    return block.get(block["type"], {}).get("children") or []


def depth(blocks: Iterable[Block]) -> int:
    """Levels of nesting: a flat list is 1."""
    return max((1 + depth(children_of(b)) for b in blocks), default=0)


def count_elements(blocks: Iterable[Block]) -> int:
    """Block elements, nested ones included (what Notion's 1,000 per request counts)."""
    return sum(1 + count_elements(children_of(b)) for b in blocks)


def encoded(obj: Any) -> bytes:
    """The request body as sent (compact UTF-8 JSON)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def size(obj: Any) -> int:
    return len(encoded(obj))


def nest(parent: Block, child: Block) -> bool:
    """Add `child` under `parent` if the group stays within the limits; False when it would not."""
    payload = parent[parent["type"]]
    kids = payload.setdefault("children", [])
    if len(kids) >= MAX_CHILDREN or size(parent) + size(child) > GROUP_BUDGET or children_of(child):
        if not kids:
            payload.pop("children")
        return False
    kids.append(child)
    return True


def batches(
    blocks: list[Block], *, first_budget: int = PAYLOAD_BUDGET, budget: int = PAYLOAD_BUDGET
) -> Iterator[list[Block]]:
    """Split top-level blocks into requests: at most 100 blocks, 1,000 elements and `budget` bytes each.

    The first batch goes with the create-page request, whose properties use part of the
    payload: it gets `first_budget` bytes.
    """
    cur: list[Block] = []
    cur_bytes = cur_elems = 0
    limit = first_budget
    for b in blocks:
        b_bytes = size(b) + 1
        b_elems = count_elements([b])
        if cur and (
            len(cur) >= MAX_CHILDREN or cur_elems + b_elems > MAX_BLOCK_ELEMENTS or cur_bytes + b_bytes > limit
        ):
            yield cur
            cur, cur_bytes, cur_elems, limit = [], 0, 0, budget
        cur.append(b)
        cur_bytes += b_bytes
        cur_elems += b_elems
    if cur:
        yield cur


# --- text to blocks ------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST = re.compile(r"^(?P<indent>[ \t]*)(?P<mark>[-*+•]|\d{1,3}[.)])\s+(?P<text>.+)$")
_QUOTE = re.compile(r"^>\s?(.*)$")


def _list_block(mark: str, s: str) -> list[Block]:
    return numbered(s) if mark[0].isdigit() else bulleted(s)


def text_to_blocks(text: str) -> list[Block]:
    """Extracted text as readable blocks: headings (`#`), lists (nested one level), quotes, paragraphs.

    Text with blank lines is read as paragraphs separated by blank lines (Markdown);
    text without any (what HTML extraction gives) has one paragraph per line.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return []
    by_blank = "\n\n" in text
    out: list[Block] = []
    para: list[str] = []
    last_item: Block | None = None

    def flush() -> None:
        if para:
            out.extend(paragraph("\n".join(para)))
            para.clear()

    for raw in text.split("\n"):
        line = raw.rstrip()
        if not line.strip():
            flush()
            last_item = None
            continue
        if m := _HEADING.match(line.strip()):
            flush()
            out.extend(heading(2 if len(m.group(1)) == 1 else 3, m.group(2)))
            last_item = None
        elif m := _LIST.match(line):
            flush()
            items = _list_block(m.group("mark"), m.group("text").strip())
            indented = len(m.group("indent").expandtabs(4)) >= 2
            if indented and last_item is not None and len(items) == 1 and nest(last_item, items[0]):
                continue
            out.extend(items)
            last_item = items[-1] if len(items) == 1 else None
        elif m := _QUOTE.match(line.strip()):
            flush()
            out.extend(quote(m.group(1)))
            last_item = None
        elif by_blank:
            para.append(line.strip())
            last_item = None
        else:
            out.extend(paragraph(line.strip()))
            last_item = None
    flush()
    return out


# --- the page body -------------------------------------------------------------------------

RECIPE_META = (
    ("yields", "Yields", ""),
    ("prep_time_minutes", "Prep", " min"),
    ("cook_time_minutes", "Cook", " min"),
    ("total_time_minutes", "Total", " min"),
    ("cuisine", "Cuisine", ""),
    ("category", "Category", ""),
    ("author", "Author", ""),
)


def recipe_blocks(recipe: dict[str, Any], ingredients_as: str = "to_do") -> list[Block]:
    """A recipe: description, facts, ingredients (to-do or bulleted list), numbered steps."""
    out: list[Block] = list(heading(2, "Recipe"))
    if recipe.get("title"):
        out.extend(heading(3, str(recipe["title"])))
    if recipe.get("description"):
        out.extend(paragraph(str(recipe["description"])))
    for key, label, unit in RECIPE_META:
        if recipe.get(key):
            out.extend(bulleted(f"{label}: {recipe[key]}{unit}"))
    ingredients = [str(i) for i in recipe.get("ingredients") or [] if str(i).strip()]
    if ingredients:
        out.extend(heading(3, "Ingredients"))
        for i in ingredients:
            out.extend(to_do(i) if ingredients_as == "to_do" else bulleted(i))
    steps = [str(s) for s in recipe.get("instructions") or [] if str(s).strip()]
    if steps:
        out.extend(heading(3, "Steps"))
        for s in steps:
            out.extend(numbered(s))
    return out


def body_blocks(doc: dict[str, Any], *, include_text: bool = True, ingredients_as: str = "to_do") -> list[Block]:
    """The page body: summary, keywords, insights, recipe, source link, then the full text."""
    out: list[Block] = []
    if doc.get("summary"):
        out += heading(2, "Summary") + text_to_blocks(str(doc["summary"]))
    if doc.get("keywords"):
        out += heading(2, "Keywords") + paragraph(", ".join(str(k) for k in doc["keywords"]))
    if doc.get("insights"):
        out += heading(2, "Insights")
        for i in doc["insights"]:
            out += bulleted(str(i))
    recipe = doc.get("recipe")
    if recipe and (recipe.get("ingredients") or recipe.get("instructions")):
        out += recipe_blocks(recipe, ingredients_as)
    if doc.get("url"):
        out += link_paragraph("Source: ", str(doc["url"]))
    if include_text and doc.get("text"):
        out += [divider(), *heading(2, "Full text"), *text_to_blocks(str(doc["text"]))]
    return out
