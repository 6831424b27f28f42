"""Keywords with YAKE, cleaned: no sub-phrases of each other, no verb fragments, natural case.

YAKE proposes phrases of up to three words, scored by position, frequency, spread and
casing. Its raw list repeats itself ("Saturday mornings", "mornings start", "Saturday")
and keeps fragments that cross a verb ("Street opened"). We keep a phrase only if it
shares no word stem with a phrase already kept (a second pass fills up with phrases that
merely are not contained in a kept one), drop fragments that start or end with a
verb-like or number word, and write a phrase in lower case when the text also does.

Importing YAKE takes about a second, once per process (`warm_up()` does it early); each
call is then a few milliseconds for a page.
"""

from __future__ import annotations

import re
from functools import lru_cache
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
MAX_TEXT = 20_000


@lru_cache(maxsize=16)
def _extractor(lang: str, top: int) -> Any:
    import yake

    try:
        return yake.KeywordExtractor(lan=lang, n=3, top=top, dedupLim=0.9, windowsSize=1)
    except Exception:  # no stop-word list for this language
        return yake.KeywordExtractor(lan="en", n=3, top=top, dedupLim=0.9, windowsSize=1)


def warm_up() -> None:
    """Import YAKE and build the English extractor (slow once per process)."""
    _extractor("en", 40).extract_keywords("Warm up the keyword extractor with a short sentence about bread.")


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


def select(phrases: list[str], n: int) -> list[str]:
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
    try:
        found = _extractor(lang, max(20, n * 5)).extract_keywords(text)
    except Exception:
        found = []
    phrases = [" ".join(p.split()) for p, _ in sorted(found, key=lambda x: x[1])]
    return [natural_case(p, text) for p in select([p for p in phrases if acceptable(p)], n)]
