"""Extraction throughput inside the pipeline against a bare in-process trafilatura loop.

    python -m bench.parser_throughput [--smoke] [--copies N]

The same pages both ways (the 40 real recipe pages of ../shared/corpus/recipes, each served
`copies` times under distinct URLs; samples/pages when the corpus is absent):

* bare: `trafilatura.extract(page)` in a loop in this process, one core, nothing else:
  the text and nothing more.
* pipeline: the pages served on loopback, one task with stages = [parse] submitted to a real
  stack (embedded NATS and PostgreSQL, the gateway and one parser process; bench/_stack.py),
  timed from CreateTask until the task is done. Each page is fetched over HTTP, parsed once
  and read for text, metadata, JSON-LD, microdata and recipes, and stored in PostgreSQL.
* also, for reference: Distill's `extract()` in the same bare loop (what the parser does to
  a page, without fetching, queueing or storing).

Target: pipeline pages/s >= 85% of the bare loop's. The bare loop is timed just before and
just after the pipeline run and the mean taken, as this machine is shared. Also reported:
the CPU seconds the parser process spent per page against the bare loop's (a measure of
the pipeline's own cost that other load on the machine does not move much).
Writes bench/results/parser_throughput.json.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from bench import _stack
from bench.common import ROOT, Figure, write_results
from bench.parser_quality import CORPUS, serve
from bench.parser_quality import pages as corpus_pages

TARGET = 0.85


def pages() -> dict[str, bytes]:
    if CORPUS.is_dir():
        return {f"{name}.html": body for name, body, _ in corpus_pages()}
    folder = ROOT / "samples" / "pages"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.html"))}


def bare_loop(bodies: list[bytes], fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(pages per second, CPU ms per page) of `fn` over `bodies`, after one warm-up call."""
    fn(bodies[0])
    t0, c0 = time.perf_counter(), time.process_time()
    for b in bodies:
        fn(b)
    return len(bodies) / (time.perf_counter() - t0), (time.process_time() - c0) / len(bodies) * 1000


def trafilatura_bare(body: bytes) -> object:
    import trafilatura

    return trafilatura.extract(body)


def distill_bare(body: bytes) -> object:
    from distill_parser.extract import extract

    return extract(body, "text/html", "https://bench.example/")


async def pipeline(gateway: str, urls: list[str]) -> tuple[float, int]:
    from distill.v1 import task_pb2
    from distill_client import AsyncClient

    async with AsyncClient(gateway, _stack.KEY, timeout=60) as client:
        t0 = time.perf_counter()
        task = await client.submit(urls, stages=["parse"])
        done = await client.wait(task.id, timeout=900)
        seconds = time.perf_counter() - t0
    if done.status != task_pb2.TASK_STATUS_SUCCEEDED:
        raise RuntimeError(f"{done.counts.failed} of {done.counts.total} pages failed")
    return len(urls) / seconds, done.counts.succeeded


def _cpu(proc) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds (user + system) of a process and its children (the extraction workers)."""
    procs = [proc, *proc.children(recursive=True)]
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def main(smoke: bool = False, copies: int | None = None) -> list[Figure]:
    import psutil

    files = pages()
    copies = copies or (1 if smoke else 10)
    names = sorted(files)[: 10 if smoke else None]
    bodies = [files[n] for n in names] * copies
    distill_rate, distill_cpu = bare_loop(bodies, distill_bare)
    base, srv = serve(files)
    stack = _stack.start(services=("gateway", "parser"))
    try:
        asyncio.run(pipeline(stack.gateway, [f"{base}/{n}?warm-up" for n in names[:10]]))  # imports, pools
        parser = psutil.Process(stack.pids("parser")[0])
        urls = [f"{base}/{n}?copy={k}" for k in range(copies) for n in names]
        before_rate, before_cpu = bare_loop(bodies, trafilatura_bare)
        cpu0 = _cpu(parser)
        piped, stored = asyncio.run(pipeline(stack.gateway, urls))
        parser_cpu = (_cpu(parser) - cpu0) / len(urls) * 1000
        load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        after_rate, after_cpu = bare_loop(bodies, trafilatura_bare)
    finally:
        stack.stop()
        srv.shutdown()
    bare, bare_cpu = (before_rate + after_rate) / 2, (before_cpu + after_cpu) / 2
    n = len(bodies)
    figs = [
        Figure("parser_throughput.bare_trafilatura_pages_per_s", bare, "pages/s",
               note=f"{n} pages, one core; {before_rate:.1f} before and {after_rate:.1f} after the pipeline run"),
        Figure("parser_throughput.pipeline_pages_per_s", piped, "pages/s", note=f"{stored} stored, stages=parse"),
        Figure("parser_throughput.pipeline_vs_bare_trafilatura", piped / bare * 100, "%", ">=", TARGET * 100, load),
        Figure("parser_throughput.bare_trafilatura_cpu_ms_per_page", bare_cpu, "ms", note="trafilatura.extract()"),
        Figure("parser_throughput.bare_distill_extract_cpu_ms_per_page", distill_cpu, "ms",
               note=f"Distill's extract() in the same loop ({distill_rate:.1f} pages/s)"),
        Figure("parser_throughput.parser_cpu_ms_per_page", parser_cpu, "ms",
               note="fetch + extract + runner + store: the parser process and its extraction worker"),
        Figure("parser_throughput.cpu_efficiency_vs_bare_trafilatura", bare_cpu / parser_cpu * 100, "%",
               note="bare loop CPU per page / the parser's CPU per page"),
    ]  # fmt: skip
    write_results("parser_throughput", figs)
    return figs


if __name__ == "__main__":
    n = int(sys.argv[sys.argv.index("--copies") + 1]) if "--copies" in sys.argv else None
    for f in main(smoke="--smoke" in sys.argv, copies=n):
        print(f.row())
