"""The YAKE candidate scoring as first written (one loop over the tokens, a _Term object per
term): the reference keywords._Scored must agree with, score for score and phrase for phrase."""

from __future__ import annotations

import math
import re
from typing import Any

from distill_ai.keywords import _PUNCT, _WORDS, _tag, stopwords

_SENTENCES = re.compile(r"(?<=[.!?…])\s+|\n+")


class _Term:
    __slots__ = ("a", "h", "left", "n", "right", "sentences", "stop", "tf")

    def __init__(self, stop: bool) -> None:
        self.stop = stop
        self.tf = 0
        self.a = 0  # occurrences as an acronym
        self.n = 0  # occurrences capitalised inside a sentence
        self.sentences: list[int] = []  # the sentences it occurs in, each once, in order
        self.left: dict[str, int] = {}  # term just before -> times
        self.right: dict[str, int] = {}
        self.h = 0.0


_WORD_CACHE: dict[str, tuple[bool, str, str, str, str]] = {}


def _word(word: str) -> tuple[bool, str, str, str, str]:
    """(punctuation only, lower case, term key, tag first in a sentence, tag further on) of a
    token; pure, so cached per process (a text's words repeat, and so do a language's)."""
    info = _WORD_CACHE.get(word)
    if info is None:
        low = word.lower()
        key = low[:-1] if low.endswith("s") and len(low) > 3 else low
        info = (all(c in _PUNCT for c in word), low, key, _tag(word, 0), _tag(word, 1))
        _WORD_CACHE[word] = info
    return info


def _candidates(text: str, lang: str, n: int) -> list[tuple[float, str]]:
    """(YAKE score, phrase) of every candidate of up to n words, in no particular order."""
    stop = stopwords(lang)
    terms: dict[str, _Term] = {}
    cands: dict[tuple[str, ...], list[Any]] = {}  # key -> [tf, surface]
    n_sentences = 0
    cached = _WORD_CACHE.get
    for sentence in _SENTENCES.split(text):
        tokens = _WORDS.findall(sentence)
        if not tokens:
            continue
        sid = n_sentences
        n_sentences += 1
        # (term, word, key, candidate word) of the current run of words without punctuation;
        # term is None for a digit or unusual token (no relation to its neighbours)
        block: list[tuple[_Term | None, str, str, bool]] = []
        for i, word in enumerate(tokens):
            info = cached(word)
            if info is None:
                info = _word(word)
            punct, low, key, tag0, tag1 = info
            if punct:
                block = []
                continue
            tag = tag1 if i else tag0
            t = terms.get(key)
            if t is None:
                t = terms[key] = _Term(low in stop or key in stop or len(key.strip(_PUNCT)) < 3)
            t.tf += 1
            if tag == "a":
                t.a += 1
            elif tag == "n":
                t.n += 1
            ts = t.sentences
            if not ts or ts[-1] != sid:
                ts.append(sid)
            plain = tag != "d" and tag != "u"
            if plain and block:
                prev = block[-1]
                pt = prev[0]
                if pt is not None:
                    pt.right[key] = pt.right.get(key, 0) + 1
                    t.left[prev[2]] = t.left.get(prev[2], 0) + 1
            ok = plain and not t.stop
            block.append((t if plain else None, word, key, ok))
            # Candidates ending here: the last 1..n words, none of them a stop word or a number.
            if not ok:
                continue
            k: tuple[str, ...] = (key,)
            surface = word
            size = 1
            while True:
                c = cands.get(k)
                if c is None:
                    cands[k] = [1, surface]
                else:
                    c[0] += 1
                size += 1
                if size > n or size > len(block):
                    break
                g = block[-size]
                if not g[3]:
                    break
                k = (g[2], *k)
                surface = f"{g[1]} {surface}"
    valid = [t for t in terms.values() if not t.stop]
    if not valid or not cands:
        return []
    tfs = [t.tf for t in valid]
    mean = sum(tfs) / len(tfs)
    std = math.sqrt(sum((x - mean) ** 2 for x in tfs) / len(tfs))
    max_tf = max(t.tf for t in terms.values())
    log = math.log
    for t in valid:  # candidates hold no stop word: only these terms are ever scored
        left, right = t.left, t.right
        wdl, wil = len(left), sum(left.values())
        wdr, wir = len(right), sum(right.values())
        pwl = wdl / wil if wil else 0.0
        pwr = wdr / wir if wir else 0.0
        rel = (0.5 + pwl * t.tf / max_tf) + (0.5 + pwr * t.tf / max_tf)
        freq = t.tf / (mean + std)
        ss = t.sentences
        spread = len(ss) / n_sentences
        case = max(t.a, t.n) / (1.0 + log(t.tf))
        m = len(ss) // 2
        median = ss[m] if len(ss) % 2 else (ss[m - 1] + ss[m]) / 2
        pos = log(log(3.0 + median))
        t.h = (pos * rel) / (case + freq / rel + spread / rel)
    out = []
    for k, (tf, surface) in cands.items():
        if len(k) == 1:
            h = terms[k[0]].h
            out.append((h / ((h + 1) * tf), surface))
        else:
            hs = [terms[x].h for x in k]
            out.append((math.prod(hs) / ((sum(hs) + 1) * tf), surface))
    return out
