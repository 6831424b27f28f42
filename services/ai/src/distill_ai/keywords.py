"""Keywords by YAKE, cleaned: no sub-phrases of each other, no verb fragments, natural case.

YAKE (Campos et al. 2020) scores phrases of up to three words by the casing, position,
frequency, spread and relatedness of their words. `yake_scores` computes it directly,
with the yake package's stop-word lists and the same formulas; the package itself costs
20-30 ms of CPU for a 2 kB page (per-word objects, a networkx graph, numpy medians), far
too much for the local provider's 50 ms budget. This single pass costs one or two: a
token's tag and key are looked up once per process (`_word`), each candidate extends the
one a word shorter, and candidates are ranked lazily (a heap), so the cleaning below reads
only as many as it keeps.

YAKE's raw list repeats itself ("Saturday mornings", "mornings start", "Saturday") and
keeps fragments that cross a verb ("Street opened"). We keep a phrase only if it shares
no word stem with a phrase already kept (a second pass fills up with phrases that merely
are not contained in a kept one), drop fragments that start or end with a verb-like or
number word, and write a phrase in lower case when the text also does.
"""

from __future__ import annotations

import heapq
import importlib.util
import math
import re
import string
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from distill_ai.extractive import STOP

NUMBER_WORDS = frozenset(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen
    eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million billion
    first second third last next half dozen""".split()
)
GENERIC = frozenset(
    """way ways thing things time times year years day days week weeks lot lots part parts kind sort number today
    start starts started late early instead perhaps whole able less far along ago make makes take takes use uses
    keep keeps come comes go goes give gives see sees know knows want wants look looks find finds need needs become
    becomes leave leaves put puts mean means let lets begin begins seem seems help helps show shows bring brings
    include includes including remain remains spend spends spent grow grows open opens offer offers reach reaches
    add adds set sets run runs say says tell tells ask asks get gets went gone done""".split()
)
# Words that are no keyword on their own (fine inside a phrase: "local radio station").
SINGLE_WEAK = frozenset(
    """main good great small large big little long short high low old young important different best better real
    sure full certain common single local new recent previous several various own possible whole""".split()
)
_VERBISH = re.compile(r"^[a-z][a-z'’-]*(?:ed|ly)$")
_TOKEN = re.compile(r"[\w'’-]+", re.U)
_PUNCT = string.punctuation + "“”‘’«»…–—"
_WORDS = re.compile(r"[\w'’-]+|[^\w\s]", re.U)  # words, and punctuation marks (which end a candidate)
_SENTENCES = re.compile(r"(?<=[.!?…])\s+|\n+")
MAX_TEXT = 20_000


@lru_cache(maxsize=32)
def stopwords(lang: str) -> frozenset[str]:
    """YAKE's stop-word list for a language (read from the yake package's data, without importing it)."""
    spec = importlib.util.find_spec("yake")
    for code in (lang, "en"):
        for base in (spec.submodule_search_locations or []) if spec else []:
            path = Path(base) / "core" / "StopwordsList" / f"stopwords_{code}.txt"
            if path.exists():
                words = path.read_text(encoding="utf-8", errors="replace").split()
                return frozenset(w.lower() for w in words) | (STOP if code == "en" else frozenset())
    return STOP


def _tag(word: str, i: int) -> str:
    """YAKE's token tags: d(igit), u(nusual), a(cronym), n(ame: capitalised inside a sentence), p(lain)."""
    plain = word.replace(",", "")
    if plain.isdigit() or plain.replace(".", "", 1).isdigit():
        return "d"
    digits = sum(c.isdigit() for c in word)
    alpha = sum(c.isalpha() for c in word)
    punct = sum(c in _PUNCT for c in word)
    if (digits and alpha) or (not digits and not alpha) or punct > 1:
        return "u"
    if word.isupper():
        return "a"
    if len(word) > 1 and i > 0 and word[0].isupper() and sum(c.isupper() for c in word) == 1:
        return "n"
    return "p"


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
_WORD_CACHE_MAX = 100_000


def _word(word: str) -> tuple[bool, str, str, str, str]:
    """(punctuation only, lower case, term key, tag first in a sentence, tag further on) of a
    token; pure, so cached per process (a text's words repeat, and so do a language's)."""
    info = _WORD_CACHE.get(word)
    if info is None:
        if len(_WORD_CACHE) >= _WORD_CACHE_MAX:
            _WORD_CACHE.clear()
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


def yake_scores(text: str, lang: str = "en", n: int = 3) -> list[tuple[str, float]]:
    """Candidate phrases of up to n words with their YAKE score (lower is better), best first.

    The YAKE algorithm (Campos et al., Information Sciences 509, 2020) as the yake package
    computes it with its default window of 1: per-term casing, position, frequency,
    relatedness and spread, combined per candidate as prod(H) / ((1 + sum(H)) * tf).
    Two deliberate differences: candidates never contain a stop word (we would drop them
    anyway), and candidates that differ only by a plural "s" count as one (YAKE already
    merges them as single terms). One pass over the tokens does everything.
    """
    return [(p, s) for s, p in sorted(_candidates(text, lang, n))]


def _ranked(text: str, lang: str, n: int = 3) -> Iterator[str]:
    """The phrases of yake_scores, best first, sorted only as far as they are read."""
    heap = _candidates(text, lang, n)
    heapq.heapify(heap)
    while heap:
        yield heapq.heappop(heap)[1]


def warm_up() -> None:
    """Read the English stop words (the only slow part, once per process)."""
    stopwords("en")


def stem(word: str) -> str:
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("ses", "xes", "ches", "shes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def _weak(token: str) -> bool:
    t = token.lower().replace("’", "'")
    head = t.split("-", 1)[0]
    return t in STOP or t in GENERIC or head in NUMBER_WORDS or t.isdigit()


def _verbish(token: str) -> bool:
    return len(token) > 4 and bool(_VERBISH.match(token.lower()))


def acceptable(phrase: str) -> bool:
    """False for fragments that are not things: stop words inside, or number, generic or verb-like edges."""
    toks = _TOKEN.findall(phrase)
    if not toks or len(phrase) < 3 or any(t.isdigit() for t in toks):
        return False
    if _weak(toks[0]) or _weak(toks[-1]) or any(t.lower() in STOP for t in toks):
        return False
    if len(toks) == 1:
        t = toks[0]
        return t.lower() not in SINGLE_WEAK and not (_verbish(t) and (t.islower() or t.lower().endswith("ed")))
    return not (_verbish(toks[0]) or _verbish(toks[-1]))


def natural_case(phrase: str, text: str) -> str:
    """The phrase in lower case when the text also writes it so (else as written, e.g. a name)."""
    low = phrase.lower()
    if low != phrase and re.search(r"(?<![\w-])" + re.escape(low) + r"(?![\w-])", text):
        return low
    return phrase


def select(phrases: Iterable[str], n: int) -> list[str]:
    """At most n phrases, best first, none sharing a word stem with a better one (then fill up)."""
    picked: list[tuple[str, frozenset[str]]] = []
    rest: list[tuple[str, frozenset[str]]] = []
    used: set[str] = set()
    for p in phrases:
        stems = frozenset(stem(t) for t in _TOKEN.findall(p) if not _weak(t))
        if not stems or any(stems == s for _, s in picked):
            continue
        if stems & used:
            rest.append((p, stems))
            continue
        picked.append((p, stems))
        used |= stems
        if len(picked) >= n:
            return [p for p, _ in picked]
    for p, stems in rest:
        if len(picked) >= n:
            break
        if any(stems <= s or s <= stems for _, s in picked):
            continue
        picked.append((p, stems))
    return [p for p, _ in picked]


def keywords(text: str, n: int, language: str | None = None) -> list[str]:
    """Up to n keywords of the text, best first."""
    if n <= 0 or not text.strip():
        return []
    text = text[:MAX_TEXT]
    lang = ((language or "en").split("-")[0].lower() or "en")[:2]
    phrases = (p for p in _ranked(text, lang) if acceptable(p))  # read only as far as select needs
    return [natural_case(p, text) for p in select(phrases, n)]
