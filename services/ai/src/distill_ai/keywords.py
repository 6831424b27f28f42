"""Keywords by YAKE, cleaned: no sub-phrases of each other, no verb fragments, natural case.

YAKE (Campos et al. 2020) scores phrases of up to three words by the casing, position,
frequency, spread and relatedness of their words. `yake_scores` computes it directly,
with the yake package's stop-word lists and the same formulas; the package itself costs
20-30 ms of CPU for a 2 kB page (per-word objects, a networkx graph, numpy medians), far
too much for the local provider's 50 ms budget. Ours costs under one: a token's tag and key
are worked out once per process (`_WORD_CACHE`), the counting (terms, their neighbours and
sentences, phrases of one to three words) is done by Counter and zip over columns in step
with the text's tokens rather than token by token, and candidates are ranked lazily (a
heap, a phrase looked up in the text only when read), so the cleaning below reads only as
many as it keeps. tests/unit/ai/keywords_reference.py is the token-by-token loop it agrees
with, score for score.

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
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import chain, compress, islice, repeat
from operator import itemgetter, not_
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
# Sentences end at whitespace after . ! ? … and at line breaks: split where the mark and
# its whitespace are matched together, the mark given back to its sentence (as fast again
# as looking behind every whitespace for a mark).
_SENTENCE_ENDS = re.compile(r"([.!?…])\s+|\n+")


def _sentences(text: str) -> list[str]:
    """The text split at `(?<=[.!?…])\\s+|\\n+`."""
    parts = _SENTENCE_ENDS.split(text)
    marks = [m or "" for m in parts[1::2]]
    return [*map(str.__add__, parts[0:-1:2], marks), parts[-1]]


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


_Info = tuple[bool, str, str, str, str, bool, bool]
_WORD_CACHE_MAX = 100_000
_SEP = ""  # starts each sentence in the flat token list (no token is empty)


class _Words(dict[str, _Info]):
    """token -> (punctuation only, lower case, term key, tag first in a sentence, tag further
    on, plain first, plain further on); pure, so cached per process (a text's words repeat,
    and so do a language's). Plain: a word that is neither a number nor unusual."""

    def __missing__(self, word: str) -> _Info:
        if len(self) >= _WORD_CACHE_MAX:
            self.clear()
            self[_SEP] = _SEP_INFO
        low = word.lower()
        key = low[:-1] if low.endswith("s") and len(low) > 3 else low
        punct = all(c in _PUNCT for c in word)
        t0, t1 = _tag(word, 0), _tag(word, 1)
        info = (punct, low, key, t0, t1, not punct and t0 not in "du", not punct and t1 not in "du")
        self[word] = info
        return info


_SEP_INFO: _Info = (True, "", "", "u", "u", False, False)
_WORD_CACHE = _Words({_SEP: _SEP_INFO})


def _grams(seq: list[str | None], size: int) -> Counter[tuple[str, ...]]:
    """How often each run of `size` consecutive keys (no None among them) occurs."""
    return Counter(filter(all, zip(*(islice(seq, i, None) for i in range(size)), strict=False)))


class _Scored:
    """Every candidate of a text with its YAKE score: `keys` (a term key, or a tuple of
    them) and `scores` in step; `ok` and `words` (the flat token list, None where no
    candidate word stands) give each candidate's surface, as it first occurs."""

    __slots__ = ("keys", "ok", "scores", "words")

    def __init__(self, text: str, lang: str, n: int) -> None:
        self.keys: list[Any] = []
        self.scores: list[float] = []
        sents = [t for t in map(_WORDS.findall, _sentences(text)) if t]
        # One flat list of the text's tokens, a _SEP before each sentence; every column
        # below is in step with it, so the counting runs in C (Counter, zip, compress).
        words: list[str] = []
        starts = []
        for t in sents:
            words.append(_SEP)
            starts.append(len(words))
            words += t
        self.words = words
        self.ok: list[str | None] = []
        infos = list(map(_WORD_CACHE.__getitem__, words))
        keys = list(map(itemgetter(2), infos))
        tags = list(map(itemgetter(4), infos))
        plain = list(map(itemgetter(6), infos))
        for p in starts:  # a sentence's first token has tags of its own
            tags[p], plain[p] = infos[p][3], infos[p][5]
        word = list(map(not_, map(itemgetter(0), infos)))  # not punctuation (nor _SEP)
        wkeys = list(compress(keys, word))
        if not wkeys:
            return
        tf = Counter(wkeys)
        stop = stopwords(lang)
        lows = list(compress(map(itemgetter(1), infos), word))
        first_low = dict(zip(reversed(wkeys), reversed(lows), strict=True))  # a term's first word
        is_stop = {k: low in stop or k in stop or len(k.strip(_PUNCT)) < 3 for k, low in first_low.items()}
        valid = [k for k in tf if not is_stop[k]]
        ok = self.ok = [k if p and not is_stop[k] else None for k, p in zip(keys, plain, strict=True)]
        uni = Counter(filter(None, ok))
        if not valid or not uni:
            return
        wtags = list(compress(tags, word))
        acr = Counter(compress(wkeys, map("a".__eq__, wtags)))
        names = Counter(compress(wkeys, map("n".__eq__, wtags)))
        sentences: dict[str, list[int]] = {k: [] for k in valid}
        sids = chain.from_iterable(repeat(i, len(t) + 1) for i, t in enumerate(sents))
        for k, s in dict.fromkeys(zip(wkeys, compress(sids, word), strict=True)):  # each term once per sentence
            ss = sentences.get(k)
            if ss is not None:
                ss.append(s)
        # Relatedness: the terms just before and after a plain word, within a run of plain words.
        pk = [k if p else None for k, p in zip(keys, plain, strict=True)]
        pairs = list(filter(all, zip(pk, islice(pk, 1, None), strict=False)))
        distinct = Counter(pairs)
        left_n, right_n = Counter(map(itemgetter(1), pairs)), Counter(map(itemgetter(0), pairs))
        left_d, right_d = Counter(map(itemgetter(1), distinct)), Counter(map(itemgetter(0), distinct))
        # Phrases: runs of candidate words (plain, no stop word); two of them side by side
        # are a pair of plain words already counted.
        grams = [uni]
        if n >= 2:
            grams.append({p: c for p, c in distinct.items() if not is_stop[p[0]] and not is_stop[p[1]]})
        grams += [_grams(ok, size) for size in range(3, n + 1)]
        tfs = [tf[k] for k in valid]
        mean = sum(tfs) / len(tfs)
        std = math.sqrt(sum((x - mean) ** 2 for x in tfs) / len(tfs))
        max_tf = max(tf.values())
        n_sentences = len(sents)
        log = math.log
        H: dict[str, float] = {}
        for k in valid:  # candidates hold no stop word: only these terms are ever scored
            t = tf[k]
            wil, wir = left_n[k], right_n[k]
            pwl = left_d[k] / wil if wil else 0.0
            pwr = right_d[k] / wir if wir else 0.0
            rel = (0.5 + pwl * t / max_tf) + (0.5 + pwr * t / max_tf)
            freq = t / (mean + std)
            ss = sentences[k]
            spread = len(ss) / n_sentences
            case = max(acr[k], names[k]) / (1.0 + log(t))
            m = len(ss) // 2
            median = ss[m] if len(ss) % 2 else (ss[m - 1] + ss[m]) / 2
            pos = log(log(3.0 + median))
            H[k] = (pos * rel) / (case + freq / rel + spread / rel)
        # prod(H) / ((sum(H) + 1) * tf), written out for one to three words (the same
        # floating-point operations in the same order as math.prod and sum)
        out = self.scores
        for size, g in enumerate(grams, 1):
            self.keys += g
            if size == 1:
                out += [h / ((h + 1) * c) for k, c in g.items() for h in (H[k],)]
            elif size == 2:
                out += [(H[a] * H[b]) / ((H[a] + H[b] + 1) * c) for (a, b), c in g.items()]
            elif size == 3:
                out += [(H[a] * H[b] * H[c]) / ((H[a] + H[b] + H[c] + 1) * f) for (a, b, c), f in g.items()]
            else:
                out += [math.prod(hs) / ((sum(hs) + 1) * f) for k, f in g.items() for hs in ([H[x] for x in k],)]

    def surface(self, j: int) -> str:
        """Candidate j as the text first writes it."""
        k = self.keys[j]
        ok = self.ok
        if type(k) is str:
            return self.words[ok.index(k)]
        size = len(k)
        i = ok.index(k[0])
        while tuple(ok[i : i + size]) != k:
            i = ok.index(k[0], i + 1)
        return " ".join(self.words[i : i + size])


def _candidates(text: str, lang: str, n: int) -> list[tuple[float, str]]:
    """(YAKE score, phrase) of every candidate of up to n words, in no particular order."""
    c = _Scored(text, lang, n)
    return [(s, c.surface(j)) for j, s in enumerate(c.scores)]


def yake_scores(text: str, lang: str = "en", n: int = 3) -> list[tuple[str, float]]:
    """Candidate phrases of up to n words with their YAKE score (lower is better), best first.

    The YAKE algorithm (Campos et al., Information Sciences 509, 2020) as the yake package
    computes it with its default window of 1: per-term casing, position, frequency,
    relatedness and spread, combined per candidate as prod(H) / ((1 + sum(H)) * tf).
    Two deliberate differences: candidates never contain a stop word (we would drop them
    anyway), and candidates that differ only by a plural "s" count as one (YAKE already
    merges them as single terms).
    """
    return [(p, s) for s, p in sorted(_candidates(text, lang, n))]


def _ranked(text: str, lang: str, n: int = 3) -> Iterator[str]:
    """The phrases of yake_scores, best first, sorted only as far as they are read (and
    only those read are looked up in the text)."""
    c = _Scored(text, lang, n)
    heap = list(zip(c.scores, range(len(c.scores)), strict=True))
    heapq.heapify(heap)
    pop = heapq.heappop
    while heap:
        s, j = pop(heap)
        if heap and heap[0][0] == s:  # a tie: by phrase, as (score, phrase) pairs sort
            tied = [c.surface(j)]
            while heap and heap[0][0] == s:
                tied.append(c.surface(pop(heap)[1]))
            yield from sorted(tied)
        else:
            yield c.surface(j)


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
