"""The `local` AI provider: summary, keywords and insights per page, in milliseconds.

    python -m bench.ai_local [--smoke]

Each sample page (samples/pages/) goes through the real parser first, as in the pipeline;
then the local analysis (what the AI stage runs for an item: extractive summary,
insights, YAKE keywords) is timed many times on one core, after one warm-up call that
reads the stop-word list. Also timed, without a target: the recipe heuristic on a caption and
a long article (about 60 kB of text).

Writes bench/results/ai_local.json. Target: under 50 ms a page: the CPU time of the call
(median and p95; what the work costs, whatever else the machine is doing) and the
wall-clock median (with the load average at the time, as this machine is shared).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

from distill_ai import recipe_heuristic
from distill_ai.providers.local import analyze_sync
from distill_ai.results import Document, Want
from distill_parser import extract

from bench.common import ROOT, Figure, write_results

SAMPLES = ROOT / "samples" / "pages"
TARGET_MS = 50.0
CAPTION = """Creamy garlic pasta 🍝 ready in 20 minutes!

Ingredients:
200g spaghetti
3 cloves garlic, minced
1 cup heavy cream
50g parmesan

Method:
1. Cook the pasta in salted water.
2. Fry garlic in butter for 1 minute.
3. Add cream and parmesan, simmer 5 minutes.

Serves 2 #pasta #italianfood"""


def _pages() -> dict[str, Document]:
    out = {}
    for p in sorted(SAMPLES.iterdir()):
        ct = "text/html" if p.suffix == ".html" else "text/plain"
        ex = extract.extract(p.read_bytes(), ct, f"http://samples.test/{p.name}")
        out[p.name] = Document(ex.text, ex.title or "", ex.language)
    return out


def _time_ms(fn: Callable[[], object], n: int) -> tuple[list[float], list[float]]:
    """(wall-clock ms, CPU ms of this thread) of n calls."""
    wall, cpu = [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - t0) * 1000)
    return wall, cpu


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def main(smoke: bool = False) -> list[Figure]:
    n = 20 if smoke else 200
    want = Want()
    pages = _pages()
    t0 = time.perf_counter()
    analyze_sync(next(iter(pages.values())), want)  # reads the stop words: once per process
    cold_ms = (time.perf_counter() - t0) * 1000
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    figures = []
    for name, doc in pages.items():
        wall, cpu = _time_ms(lambda doc=doc: analyze_sync(doc, want), n)
        note = f"{len(doc.text)} chars, {n} runs"
        figures.append(Figure(f"{name}: CPU median", statistics.median(cpu), "ms", "<=", TARGET_MS, note))
        figures.append(Figure(f"{name}: CPU p95", _p95(cpu), "ms", "<=", TARGET_MS, note))
        figures.append(Figure(f"{name}: wall median", statistics.median(wall), "ms", "<=", TARGET_MS, load))
        figures.append(Figure(f"{name}: wall p95", _p95(wall), "ms", note=load))
    long_doc = Document("\n\n".join(d.text for d in pages.values()) * 8, "Long read", "en")
    _, cpu = _time_ms(lambda: analyze_sync(long_doc, want), max(5, n // 10))
    figures.append(Figure("long article: CPU median", statistics.median(cpu), "ms", note=f"{len(long_doc.text)} chars"))
    _, cpu = _time_ms(lambda: recipe_heuristic.extract(CAPTION), n)
    figures.append(Figure("recipe from a caption: CPU median", statistics.median(cpu), "ms", note=f"{n} runs"))
    figures.append(Figure("first call (stop words read), wall", cold_ms, "ms", note="once per process"))
    write_results("ai_local", figures)
    return figures


if __name__ == "__main__":
    for f in main(smoke="--smoke" in sys.argv):
        print(f.row())
