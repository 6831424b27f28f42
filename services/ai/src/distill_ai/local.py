"""The `local` provider: extractive summary, keywords and insights with no network.

Deterministic and fast: sentences scored by the frequency of their content words
(a classic Luhn-style summariser), keywords by YAKE, insights as the highest-scoring
sentences that carry a figure or a named thing and are not already in the summary.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

_SENT = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[]?[A-Z0-9À-Ý])|\n{2,}|\n(?=[-*•]\s)")
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.U)
_FIGURE = re.compile(r"\d")
_PROPER = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}")

STOP = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves also may might must
    one two new said says like get got make made many much well even still yet per via""".split()
)


@dataclass
class LocalResult:
    summary: str
    keywords: list[str]
    insights: list[str] = field(default_factory=list)


def sentences(text: str) -> list[str]:
    out = []
    for s in _SENT.split(text):
        s = " ".join(s.split())
        if 20 <= len(s) <= 1000 and len(_WORD.findall(s)) >= 4:
            out.append(s)
    return out


def _content_words(s: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(s) if w.lower() not in STOP and len(w) > 2]


def rank(sents: list[str]) -> list[float]:
    freq = Counter(w for s in sents for w in _content_words(s))
    if not freq:
        return [0.0] * len(sents)
    top = max(freq.values())
    scores = []
    n = len(sents)
    for i, s in enumerate(sents):
        words = _content_words(s)
        if not words:
            scores.append(0.0)
            continue
        score = sum(freq[w] / top for w in words) / math.sqrt(len(words))
        score *= 1.0 + 0.3 * (1 - i / max(n, 1))  # earlier sentences matter a bit more
        scores.append(score)
    return scores


def keywords(text: str, n: int, language: str | None = None) -> list[str]:
    import yake

    lan = (language or "en").split("-")[0].lower() or "en"
    try:
        kw = yake.KeywordExtractor(lan=lan, n=2, top=n * 2, dedupLim=0.7)
        found = kw.extract_keywords(text[:20_000])
    except Exception:
        found = []
    out: list[str] = []
    seen: set[str] = set()
    for phrase, _score in found:
        p = phrase.strip()
        key = p.lower()
        if key in seen or key in STOP or len(p) < 3:
            continue
        seen.add(key)
        out.append(p)
        if len(out) >= n:
            break
    return out


def summarize(
    text: str, *, n_sentences: int = 3, n_keywords: int = 8, n_insights: int = 3, language: str | None = None
) -> LocalResult:
    sents = sentences(text)
    if not sents:
        flat = " ".join(text.split())
        return LocalResult(summary=flat[:400], keywords=keywords(text, n_keywords, language) if flat else [])
    scores = rank(sents)
    order = sorted(range(len(sents)), key=lambda i: -scores[i])
    chosen = sorted(order[:n_sentences])
    summary = " ".join(sents[i] for i in chosen)
    insights = [sents[i] for i in order if i not in chosen and (_FIGURE.search(sents[i]) or _PROPER.search(sents[i]))][
        :n_insights
    ]
    return LocalResult(summary=summary, keywords=keywords(text, n_keywords, language), insights=insights)
