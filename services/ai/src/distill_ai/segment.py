"""Text into blocks (headings, list items, prose) and prose into sentences.

Parsed text comes in two shapes: HTML extraction puts every heading, paragraph and list
item on its own line; plain-text files wrap paragraphs at a fixed width and separate them
with blank lines. A line break therefore ends a block when the line ends a sentence, is
short and unpunctuated (a heading, such as the page title), or precedes a list item; any
other line break is a wrap inside a paragraph and becomes a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BULLET = re.compile(r"^\s*(?:[-*•·▪◦‣–—▢☐✓✔➤►]+|\d{1,2}[.)]|\(\d{1,2}\)|step\s*\d+\s*[:.)-]?)\s+", re.I)
_CLOSERS = "'\"”’)]"
_END_MARKS = frozenset(".!?…:;。！？")
_SENTENCE_END_MARKS = frozenset(".!?…。！？")
_SPLIT = re.compile(r"(?<=[.!?…])['\"”’)\]]*\s+(?=['\"“‘(\[]?[A-Z0-9À-ÝĀ-ſА-ЯΑ-Ω])|(?<=[。！？])")
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|St|Sr|Jr|vs|etc|e\.g|i\.e|No|Fig|approx|Inc|Ltd|Co|Mt)\.$", re.I)
WORD = re.compile(r"[^\W\d_][\w'’-]*", re.U)
_ABBREV_TAIL = 9  # "approx." and the character before it: all _ABBREV can match at the end


def _ends_with(line: str, marks: frozenset[str]) -> bool:
    """The line ends with one of the marks, maybe followed by closing quotes or brackets
    (a right-to-left look at its last characters, not a regex scan of the whole line)."""
    if line.endswith("\n"):
        line = line[:-1]
    t = line.rstrip(_CLOSERS)
    return bool(t) and t[-1] in marks


def _ends_clause(line: str) -> bool:
    return _ends_with(line, _END_MARKS)


def _ends_sentence(line: str) -> bool:
    return _ends_with(line, _SENTENCE_END_MARKS)


HEADING_MAX_WORDS = 12


@dataclass(frozen=True, slots=True)
class Block:
    text: str
    kind: str  # "heading" | "item" | "prose"
    index: int


def _is_item(line: str) -> bool:
    return bool(BULLET.match(line))


def _heading_like(line: str) -> bool:
    return not _ends_sentence(line) and len(line) <= 100 and len(line.split()) <= HEADING_MAX_WORDS


def _starts_upper(line: str) -> bool:
    c = line.lstrip("\"'“‘(#[")[:1]
    return bool(c) and (c.isupper() or c.isdigit() or not c.isalpha())


def blocks(text: str) -> list[Block]:
    """The text's headings, list items and paragraphs, in order."""
    out: list[Block] = []
    cur: list[str] = []
    cur_item = False

    def flush() -> None:
        nonlocal cur, cur_item
        if cur:
            joined = " ".join(cur)
            if cur_item:
                kind = "item"
            elif (_ends_clause(joined) and not joined.endswith(":")) or not _heading_like(joined):
                kind = "prose"
            else:
                kind = "heading"
            out.append(Block(joined, kind, len(out)))
        cur, cur_item = [], False

    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            flush()
            continue
        item = _is_item(line)
        if cur:
            last = cur[-1]
            wrapped = not item and not _ends_clause(last) and not _starts_upper(line)
            long_wrap = not item and not _ends_clause(last) and not _heading_like(last) and not cur_item
            if not (wrapped or long_wrap):
                flush()
        if not cur:
            cur_item = item
        cur.append(line)
    flush()
    return out


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph (abbreviations such as "Dr." do not end one)."""
    parts = [p.strip() for p in _SPLIT.split(paragraph) if p and p.strip()]
    out: list[str] = []
    for p in parts:
        if out and _ABBREV.search(out[-1], max(0, len(out[-1]) - _ABBREV_TAIL)):
            out[-1] = f"{out[-1]} {p}"
        else:
            out.append(p)
    return out


def strip_marker(item: str) -> str:
    """A list item without its bullet or number."""
    return BULLET.sub("", item, count=1).strip()


def words(text: str) -> list[str]:
    return WORD.findall(text)


def usable(text: str, min_words: int = 3) -> bool:
    """Enough words to be worth summarising."""
    n = 0
    for _ in WORD.finditer(text):
        n += 1
        if n >= min_words:
            return True
    return False


def for_keywords(bs: list[Block]) -> str:
    """The blocks as one text in which every block ends a sentence (so no phrase spans two)."""
    parts = []
    for b in bs:
        t = strip_marker(b.text) if b.kind == "item" else b.text
        parts.append(t if _ends_sentence(t) else f"{t.rstrip(':;')}.")
    return "\n".join(parts)
