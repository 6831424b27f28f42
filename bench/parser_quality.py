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

import asyncio
import html
import http.server
import json
import re
import sys
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import _stack
from bench.common import ROOT, Figure, write_results

CORPUS = ROOT.parent / "shared" / "corpus" / "recipes"
TITLE_TARGET, INGREDIENTS_TARGET, INSTRUCTIONS_TARGET = 0.95, 0.90, 0.90
_WORD = re.compile(r"\w+", re.UNICODE)


def pages(corpus: Path = CORPUS) -> list[tuple[str, bytes, dict[str, Any]]]:
    """(name, HTML bytes, expected fields) of every page in the corpus."""
    return [
        (p.stem, p.read_bytes(), json.loads(p.with_suffix(".json").read_text())) for p in sorted(corpus.glob("*.html"))
    ]


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


def serve(files: dict[str, bytes]) -> tuple[str, http.server.ThreadingHTTPServer]:
    """The pages at /<name>.html on loopback, as text/html without a charset (the page says it)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = files.get(self.path.lstrip("/").split("?")[0])
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}", srv


async def through_pipeline(gateway: str, urls: list[str], timeout: float = 600) -> list[Any]:
    """Submit `urls` with stages = [parse]; the items (view = FULL) once the task is done, in order."""
    from distill_client import AsyncClient

    async with AsyncClient(gateway, _stack.KEY, timeout=60) as client:
        task = await client.submit(urls, stages=["parse"])
        await client.wait(task.id, timeout=timeout)
        listed = await client.get_task(task.id, include_items=True)
        items = sorted(listed.items, key=lambda i: i.position)
        return [await client.get_item(i.id, full=True) for i in items]


def _recipe(item: Any) -> dict[str, Any] | None:
    from google.protobuf import json_format

    if not item.parsed.HasField("recipe"):
        return None
    return json_format.MessageToDict(item.parsed.recipe, preserving_proto_field_name=True)


def main(smoke: bool = False) -> list[Figure]:
    corpus = pages()
    if not corpus:
        raise FileNotFoundError(f"no recipe corpus at {CORPUS} (see ../shared/corpus/README.md)")
    corpus = corpus[:5] if smoke else corpus
    base, srv = serve({f"{name}.html": body for name, body, _ in corpus})
    stack = _stack.start(services=("gateway", "parser"))
    try:
        t0 = time.perf_counter()
        items = asyncio.run(through_pipeline(stack.gateway, [f"{base}/{name}.html" for name, _, _ in corpus]))
        seconds = time.perf_counter() - t0
    finally:
        stack.stop()
        srv.shutdown()
    scores, lang, canonical, author, failed = [], 0, 0, 0, []
    for (name, _, expected), item in zip(corpus, items, strict=True):
        if item.error.code:
            failed.append(f"{name}: {item.error.code}")
        scores.append(score(name, _recipe(item), expected))
        p = item.parsed
        lang += p.language[:2].lower() == (expected.get("language") or "")[:2].lower()
        canonical += bool(p.canonical_url) and p.canonical_url.rstrip("/") == (
            expected.get("canonical_url") or ""
        ).rstrip("/")
        author += norm(p.byline) == norm(expected.get("author"))
    got, n = shares(scores), len(corpus)
    note = f"{n} pages of {len(set(e['host'] for *_, e in corpus))} sites through parse"
    misses = {k: [s.name.split("__")[0] for s in scores if not ok(s)] for k, ok in _CHECKS.items()}
    figs = [
        Figure("parser_quality.recipe_title_exact", got["title"] * 100, "%", ">=", TITLE_TARGET * 100,
               f"{note}; missed: {', '.join(misses['title']) or 'none'}"),
        Figure("parser_quality.ingredients_matching", got["ingredients"] * 100, "%", ">=", INGREDIENTS_TARGET * 100,
               f"pages with >= 90% of lines matched one to one; missed: {', '.join(misses['ingredients']) or 'none'}"),
        Figure("parser_quality.instructions_present", got["instructions"] * 100, "%", ">=", INSTRUCTIONS_TARGET * 100,
               f"steps holding >= half the expected words; missed: {', '.join(misses['instructions']) or 'none'}"),
        Figure("parser_quality.language_same", lang / n * 100, "%", note="primary subtag against the expected"),
        Figure("parser_quality.canonical_url_same", canonical / n * 100, "%"),
        Figure("parser_quality.byline_is_expected_author", author / n * 100, "%"),
        Figure("parser_quality.items_failed", len(failed), "items", "<=", 0, "; ".join(failed)),
        Figure("parser_quality.seconds", seconds, "s", note="submit to the last item parsed, one parser"),
    ]  # fmt: skip
    write_results("parser_quality", figs)
    return figs


_CHECKS = {
    "title": lambda s: s.title_exact,
    "ingredients": lambda s: s.ingredients_ok,
    "instructions": lambda s: s.instructions_present,
}


if __name__ == "__main__":
    for f in main(smoke="--smoke" in sys.argv):
        print(f.row())
