"""Token estimates and chunks of long text, cut at paragraph and sentence boundaries.

Counting exactly needs the model's own tokenizer, which an OpenAI-compatible endpoint
does not expose; `estimate_tokens` errs high for English prose (about 4 characters or
0.75 words a token, whichever gives more), which keeps every request inside the model's
context with the prompt and the answer added.
"""

from __future__ import annotations

import math
import re

from distill_ai.segment import split_sentences

_PARA = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d{1,2}[.)])\s)|\n")
_SPACE = re.compile(r"\S+")


def estimate_tokens(text: str) -> int:
    """An upper-leaning estimate of the tokens in text."""
    if not text:
        return 0
    words = len(_SPACE.findall(text))
    return max(math.ceil(len(text) / 4), math.ceil(words * 4 / 3))


def _pieces(text: str, max_tokens: int) -> list[str]:
    """Paragraphs; a paragraph too long for one chunk becomes sentences, a sentence too long, word runs."""
    out: list[str] = []
    for para in (p.strip() for p in _PARA.split(text)):
        if not para:
            continue
        if estimate_tokens(para) <= max_tokens:
            out.append(para)
            continue
        for sent in split_sentences(para):
            if estimate_tokens(sent) <= max_tokens:
                out.append(sent)
                continue
            words = sent.split()
            step = max(1, int(max_tokens * 0.7))  # words per piece, with room for long words
            out.extend(" ".join(words[i : i + step]) for i in range(0, len(words), step))
    return out


def chunk_text(text: str, max_tokens: int, *, overlap_tokens: int = 0) -> list[str]:
    """Consecutive chunks of at most ~max_tokens each; each may repeat the end of the one before."""
    if max_tokens <= 0:
        raise ValueError("max_tokens must be positive")
    chunks: list[str] = []
    cur: list[str] = []
    size = 0
    for piece in _pieces(text, max_tokens):
        n = estimate_tokens(piece) + 1
        if cur and size + n > max_tokens:
            chunks.append("\n".join(cur))
            cur, size = _tail(cur, overlap_tokens, max_tokens - n)
        cur.append(piece)
        size += n
    if cur:
        chunks.append("\n".join(cur))
    return chunks


def _tail(pieces: list[str], overlap: int, room: int) -> tuple[list[str], int]:
    """The last pieces of a chunk, up to `overlap` tokens, to start the next one with."""
    keep: list[str] = []
    size = 0
    for p in reversed(pieces):
        n = estimate_tokens(p) + 1
        if size + n > min(overlap, room):
            break
        keep.insert(0, p)
        size += n
    return keep, size


def truncate_tokens(text: str, max_tokens: int) -> tuple[str, bool]:
    """The text cut to about max_tokens (at a line or word boundary), and whether it was cut."""
    if estimate_tokens(text) <= max_tokens:
        return text, False
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits
        mid = (lo + hi + 1) // 2
        if estimate_tokens(text[:mid]) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    cut = text[:lo]
    for sep in ("\n", " "):
        i = cut.rfind(sep)
        if i > lo * 0.8:
            return cut[:i], True
    return cut, True
