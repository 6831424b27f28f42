"""Extractive summary and insights: sentences ranked by the words they share with the text.

A classic Luhn-style ranking: a sentence scores by how frequent its content words are in
the whole text (normalised by its length), with a little extra for sentences near the
start and for those sharing words with the title. The summary is the best few sentences
in their original order, skipping near-duplicates; headings, the title itself and list
items are never summary sentences. Insights are the best remaining sentences that carry
a figure or a named thing. Pure, deterministic, a few milliseconds for a page.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from distill_ai.segment import Block, blocks, split_sentences, strip_marker, words

STOP = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves also may might must
    one two new said says like get got make made many much well even still yet per via""".split()
)

_FIGURE = re.compile(r"\d")
_NAMED = re.compile(r"(?<=[a-z,;]\s)[A-Z][\w'’-]{2,}")

MIN_WORDS, MAX_WORDS = 4, 90


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    position: int
    words: frozenset[str]
    content: tuple[str, ...] = ()  # its content words in order (repeats kept): what rank() counts


def content_words(s: str) -> list[str]:
    return _content(words(s))


def _content(ws: list[str]) -> list[str]:
    return [w for w in (x.lower() for x in ws) if len(w) > 2 and w not in STOP]


def _norm(s: str) -> str:
    return " ".join(words(s)).lower()


def candidates(bs: list[Block], title: str = "") -> list[Sentence]:
    """Prose sentences fit to quote (the title and headings excluded); list items when there is no prose."""
    t = _norm(title)
    out: list[tuple[str, list[str]]] = []
    for b in bs:
        if b.kind == "prose":
            for s in split_sentences(b.text):
                ws = words(s)  # once per sentence: fit, title check and content words all read it
                if _fits_words(s, ws) and " ".join(ws).lower() != t:
                    out.append((s, ws))
    if not out:
        for b in bs:
            if b.kind == "item":
                s = strip_marker(b.text)
                ws = words(s)
                if _fits_words(s, ws):
                    out.append((s, ws))
    sents = []
    for i, (s, ws) in enumerate(out):
        cw = _content(ws)
        sents.append(Sentence(s, i, frozenset(cw), tuple(cw)))
    return sents


def _fits_words(s: str, ws: list[str]) -> bool:
    return MIN_WORDS <= len(ws) <= MAX_WORDS and len(s) >= 20


def rank(sents: list[Sentence], title: str = "") -> list[float]:
    """A score per sentence: higher is more central."""
    content = [s.content if s.content or not s.words else tuple(content_words(s.text)) for s in sents]
    freq = Counter(w for ws in content for w in ws)
    if not freq:
        return [0.0] * len(sents)
    top = max(freq.values())
    title_words = set(content_words(title))
    n = len(sents)
    scores = []
    for s, ws in zip(sents, content, strict=True):
        if not ws:
            scores.append(0.0)
            continue
        score = sum(freq[w] / top for w in ws) / math.sqrt(len(ws))
        score *= 1.0 + 0.3 * (1 - s.position / n)  # earlier sentences matter a bit more
        if title_words:
            score *= 1.0 + 0.3 * len(title_words & s.words) / len(title_words)
        scores.append(score)
    return scores


def _similar(a: Sentence, b: Sentence) -> bool:
    if not a.words or not b.words:
        return False
    return len(a.words & b.words) / len(a.words | b.words) > 0.5


@dataclass(slots=True)
class Extract:
    summary: str
    insights: list[str]


def summarize(text: str, *, title: str = "", n_sentences: int = 3, n_insights: int = 3) -> Extract:
    """The summary (at most n_sentences, about a third of a short text) and up to n_insights insights."""
    return summarize_blocks(blocks(text), title=title, n_sentences=n_sentences, n_insights=n_insights)


def summarize_blocks(bs: list[Block], *, title: str = "", n_sentences: int = 3, n_insights: int = 3) -> Extract:
    sents = candidates(bs, title)
    if not sents:
        flat = " ".join(b.text for b in bs if _norm(b.text) != _norm(title)) or " ".join(b.text for b in bs)
        return Extract(summary=_clip(flat, 400), insights=[])
    scores = rank(sents, title)
    order = sorted(range(len(sents)), key=lambda i: (-scores[i], i))
    k = min(n_sentences, max(1, math.ceil(len(sents) / 3)))
    chosen: list[int] = []
    for i in order:
        if len(chosen) >= k:
            break
        if not any(_similar(sents[i], sents[j]) for j in chosen):
            chosen.append(i)
    summary = " ".join(sents[i].text for i in sorted(chosen))
    insights: list[int] = []
    for i in order:
        if len(insights) >= n_insights:
            break
        s = sents[i]
        if i in chosen or not (_FIGURE.search(s.text) or _NAMED.search(s.text)):
            continue
        if any(_similar(s, sents[j]) for j in chosen + insights):
            continue
        insights.append(i)
    return Extract(summary=summary, insights=[sents[i].text for i in insights])


def _clip(s: str, n: int) -> str:
    s = " ".join(s.split())
    if len(s) <= n:
        return s
    cut = s[:n].rsplit(" ", 1)[0]
    return cut + "…"
