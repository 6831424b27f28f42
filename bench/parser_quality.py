"""Recipe extraction on 40 real pages, through the pipeline: stages = parse only.

    python -m bench.parser_quality [--smoke]

The pages of ../shared/corpus/recipes (40 sites, recipe-scrapers' test data) are served
from a local HTTP server; a real stack (embedded NATS and PostgreSQL, the gateway and one
parser, bench/_stack.py) parses each URL submitted with stages = [parse]; each item's
stored recipe is read back with GetItem (view = FULL) and compared with the expected JSON
beside the page.

What counts (the same functions as tests/unit/parser/test_corpus.py):
* title: exact, after Unicode NFKC and whitespace normalisation (case kept).
* ingredients: each expected line is matched to a distinct extracted line after NFKC,
  HTML entities, whitespace and case normalisation; a page matches when the matched
  lines are at least 90% of max(expected, extracted): missing and extra lines both count.
* instructions present: at least one step, and the steps hold at least half of the
  expected instructions' words (so a page of boilerplate does not count).
Targets: titles >= 95% of pages, ingredients >= 90%, instructions >= 90%. Also reported
without target: language, canonical URL and author against the expected values.

Writes bench/results/parser_quality.json. --smoke runs 5 pages.
"""

from __future__ import annotations

import html
import json
import re
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT, Figure, write_results

CORPUS = ROOT.parent / "shared" / "corpus" / "recipes"
TITLE_TARGET, INGREDIENTS_TARGET, INSTRUCTIONS_TARGET = 0.95, 0.90, 0.90
_WORD = re.compile(r"\w+", re.UNICODE)


def pages(corpus: Path = CORPUS) -> list[tuple[str, bytes, dict[str, Any]]]:
    """(name, HTML bytes, expected fields) of every page in the corpus."""
    return [(p.stem, p.read_bytes(), json.loads(p.with_suffix(".json").read_text())) for p in sorted(corpus.glob("*.html"))]


def norm(s: Any, *, fold: bool = True) -> str:
    t = unicodedata.normalize("NFKC", html.unescape(str(s or "")))
    t = re.sub(r"\s+", " ", t).strip()
    return t.casefold() if fold else t


@dataclass
class PageScore:
    name: str
    title_exact: bool
    ingredients_matched: float
    instructions_recall: float
    steps: int

    @property
    def ingredients_ok(self) -> bool:
        return self.ingredients_matched >= 0.9

    @property
    def instructions_present(self) -> bool:
        return self.steps > 0 and self.instructions_recall >= 0.5


def ingredients_matched(got: list[str], expected: list[str]) -> float:
    """Share of lines matched one to one, over the longer of the two lists."""
    left = Counter(norm(x) for x in got)
    hits = 0
    for e in (norm(x) for x in expected):
        if left[e] > 0:
            left[e] -= 1
            hits += 1
    return hits / max(len(expected), len(got), 1)


def words_recall(got: list[str], expected: list[str]) -> float:
    want = Counter(_WORD.findall(norm(" ".join(expected))))
    have = Counter(_WORD.findall(norm(" ".join(got))))
    return sum(min(n, have[w]) for w, n in want.items()) / max(sum(want.values()), 1)


def score(name: str, recipe: dict[str, Any] | None, expected: dict[str, Any]) -> PageScore:
    r = recipe or {}
    return PageScore(
        name=name,
        title_exact=norm(r.get("title"), fold=False) == norm(expected.get("title"), fold=False),
        ingredients_matched=ingredients_matched(list(r.get("ingredients") or []), expected.get("ingredients") or []),
        instructions_recall=words_recall(list(r.get("instructions") or []), expected.get("instructions_list") or []),
        steps=len(r.get("instructions") or []),
    )


def shares(scores: list[PageScore]) -> dict[str, float]:
    n = max(len(scores), 1)
    return {
        "title": sum(s.title_exact for s in scores) / n,
        "ingredients": sum(s.ingredients_ok for s in scores) / n,
        "instructions": sum(s.instructions_present for s in scores) / n,
    }
