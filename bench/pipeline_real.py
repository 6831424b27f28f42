"""Real work: small pages served on loopback through parse -> ai (local) -> notion (markdown).

Measures items/s end to end (CreateTask to the last item exported) with one parser
process and with two, and the CPU each process spends per item (where the time goes on
2 cores). Target: at least 200 items/s.

The stack runs as a deployment tuned for throughput would (ENV): every page comes from
one loopback host, so the parser's per-host limit (4, politeness towards one site) is
raised as a crawl of many sites would never hit it; the AI (local provider) and export
(Markdown) stages run 32 jobs at once instead of the 4 and 8 sized for remote LLMs and
Notion's rate limit, so that the runner claims and completes them in batches.

    python -m bench.pipeline_real [--smoke] [--items N]
"""

from __future__ import annotations

import asyncio
import http.server
import os
import random
import sys
import threading
import time

from bench import _stack
from bench.common import Figure, write_results
from bench.cpu import CpuMeter, cpu_figures

WORDS = (
    "harbour tide winter storm village boat cooperative forecast engineer granite bulletin fisherman season "
    "catch drainage channel contractor report institute community garden volunteer compost water grant "
    "school sunflower measure notebook committee timber council budget market bakery flour recipe oven"
).split()


class Pages(http.server.BaseHTTPRequestHandler):
    """Deterministic small article pages (about 3 kB), keep-alive."""

    protocol_version = "HTTP/1.1"
    bodies: list[bytes] = []

    def do_GET(self) -> None:
        i = abs(hash(self.path)) % len(self.bodies)
        body = self.bodies[i]
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a: object) -> None:
        pass


def make_pages(n: int = 200) -> list[bytes]:
    rng = random.Random(42)
    out = []
    for i in range(n):
        paras = "".join(
            "<p>"
            + " ".join(rng.choice(WORDS) for _ in range(60)).capitalize()
            + f". In {2000 + k} it cost {i * k}.</p>"
            for k in range(6)
        )
        out.append(
            f"<!doctype html><html lang=en><head><title>Bench page {i}</title></head><body><article>"
            f"<h1>Bench page {i}</h1>{paras}</article></body></html>".encode()
        )
    return out


def serve_pages() -> tuple[str, http.server.ThreadingHTTPServer]:
    Pages.bodies = make_pages()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}", srv


async def run_once(stack: _stack.Stack, base: str, n: int, per_task: int = 1000, timeout: float = 900) -> float:
    from distill.v1 import task_pb2
    from distill_client import AsyncClient

    done = {task_pb2.TASK_STATUS_SUCCEEDED, task_pb2.TASK_STATUS_PARTIALLY_FAILED, task_pb2.TASK_STATUS_FAILED}
    async with AsyncClient(stack.gateway, _stack.KEY, timeout=60) as client:
        t0 = time.perf_counter()
        ids = []
        for start in range(0, n, per_task):
            urls = [f"{base}/p/{i}" for i in range(start, min(n, start + per_task))]
            ids.append((await client.submit(urls)).id)
        pending = set(ids)
        deadline = time.monotonic() + timeout
        while pending:
            for tid in list(pending):
                t = await client.get_task(tid)
                if t.status in done:
                    if t.counts.succeeded != t.counts.total:
                        raise RuntimeError(f"task {tid}: {t.counts.failed} of {t.counts.total} items failed")
                    pending.discard(tid)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} tasks unfinished after {timeout:.0f} s")
            await asyncio.sleep(0.2)
        return n / (time.perf_counter() - t0)


ENV = {
    "DISTILL_PARSER_CONCURRENCY": "64",
    "DISTILL_PARSER_PER_HOST_CONCURRENCY": "64",
    "DISTILL_AI_CONCURRENCY": "32",
    "DISTILL_NOTION_CONCURRENCY": "32",
}
SERVICES = ("gateway", "parser", "ai", "notion", "notifier")


def meter(stack: _stack.Stack) -> CpuMeter:
    """CPU of every service (all replicas, the parser's extraction workers included),
    PostgreSQL, NATS, and this process (the client and the page server)."""
    groups = {svc: stack.pids(svc) for svc in SERVICES}
    groups.update(postgres=[stack.pg.proc.pid], nats=[stack.nats.proc.pid], client_and_pages=[os.getpid()])  # type: ignore[union-attr]
    return CpuMeter(groups)


def measure(n: int, parsers: int, warm_up: int = 100) -> tuple[float, dict[str, float]]:
    """Items/s, and the CPU seconds each part spent meanwhile."""
    base, srv = serve_pages()
    stack = _stack.start({"parser": parsers}, env=ENV)
    try:
        asyncio.run(run_once(stack, base, warm_up))  # imports, connections, YAKE's stop words
        m = meter(stack)
        before = m.sample()
        rate = asyncio.run(run_once(stack, base, n))
        return rate, m.since(before)
    finally:
        stack.stop()
        srv.shutdown()


def main(smoke: bool = False, items: int | None = None) -> list[Figure]:
    n = items or (60 if smoke else 2000)
    warm_up = 10 if smoke else 100
    one, spent_one = measure(n, 1, warm_up)
    two, spent_two = measure(n, 2, warm_up)
    figs = [
        Figure("pipeline.real_items_per_s", one, "items/s", ">=", 200, f"{n} pages, parse->ai->notion, 1 parser"),
        Figure("pipeline.real_items_per_s_2_parsers", two, "items/s", ">=", 200, f"{n} pages, 2 parser processes"),
        *cpu_figures("pipeline.1_parser", spent_one, n, n / one),
        *cpu_figures("pipeline.2_parsers", spent_two, n, n / two),
    ]
    write_results("pipeline_real", figs)
    return figs


if __name__ == "__main__":
    smoke = "--smoke" in sys.argv
    items = int(sys.argv[sys.argv.index("--items") + 1]) if "--items" in sys.argv else None
    for f in main(smoke, items):
        print(f.row())
