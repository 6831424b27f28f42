"""Memory: resident set size of each service while a 20,000-item backlog drains.

A service's RSS is that of its process and its children (the parser's extraction
workers) added up.

Target: at most 200 MB per service, and flat (not growing with the backlog). The RSS of
every service process is sampled each second; "growth" compares the last quarter of the
run with the first quarter (after warm-up).

    python -m bench.memory [--smoke] [--items N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time
from collections import defaultdict

import psutil

from bench import _stack
from bench.common import Figure, write_results
from bench.pipeline_real import ENV, run_once, serve_pages

SERVICES = ("gateway", "parser", "ai", "notion", "notifier")


def tree_rss(pid: int) -> int:
    """RSS of a service process and its children (the parser's extraction workers), summed:
    what its container would be charged, shared pages counted twice (an upper bound)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def main(smoke: bool = False, items: int | None = None) -> list[Figure]:
    n = items or (150 if smoke else 20_000)
    base, srv = serve_pages()
    stack = _stack.start(env=ENV)  # the throughput settings of bench.pipeline_real
    samples: dict[str, list[float]] = defaultdict(list)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for svc in SERVICES:
                rss = 0
                for pid in stack.pids(svc):  # one replica each here
                    rss = max(rss, tree_rss(pid))
                samples[svc].append(rss / 2**20)
            stop.wait(1.0)

    t = threading.Thread(target=sample, daemon=True)
    try:
        t.start()
        rate = asyncio.run(run_once(stack, base, n, timeout=3600))
    finally:
        stop.set()
        t.join()
        stack.stop()
        srv.shutdown()
    figs = []
    for svc in SERVICES:
        s = samples[svc]
        q = max(1, len(s) // 4)
        growth = statistics.mean(s[-q:]) - statistics.mean(s[:q]) if len(s) >= 4 else 0.0
        figs.append(Figure(f"memory.{svc}_max_rss_mb", max(s or [0]), "MB", "<=", 200, f"{n} items"))
        figs.append(Figure(f"memory.{svc}_rss_growth_mb", growth, "MB", "<=", 50, "last quarter minus first"))
    figs.append(Figure("memory.backlog_items_per_s", rate, "items/s", None, None, f"{n} items"))
    write_results("memory", figs)
    return figs


if __name__ == "__main__":
    smoke = "--smoke" in sys.argv
    items = int(sys.argv[sys.argv.index("--items") + 1]) if "--items" in sys.argv else None
    for f in main(smoke, items):
        print(f.row())
    time.sleep(0)
