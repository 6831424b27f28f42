"""CreateTask latency: p50 and p99 for 1 URL and for 1,000 URLs (targets: p99 <= 10 ms and <= 150 ms).

Only the gateway runs (with NATS and PostgreSQL): the jobs it publishes wait in their
queues, so what is measured is the RPC itself, validation, the transaction and the
publish, as a client sees them.

    python -m bench.latency [--smoke]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from bench import _stack
from bench.common import Figure, write_results


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


async def measure(stack: _stack.Stack, urls: int, calls: int) -> list[float]:
    from distill_client import AsyncClient

    lat = []
    async with AsyncClient(stack.gateway, _stack.KEY, timeout=30) as client:
        for i in range(calls + 3):
            batch = [f"https://bench.example/{i}/{j}" for j in range(urls)]
            t0 = time.perf_counter()
            await client.submit(batch)
            if i >= 3:  # warm-up calls are not counted
                lat.append((time.perf_counter() - t0) * 1000)
    return lat


def main(smoke: bool = False) -> list[Figure]:
    stack = _stack.start(services=("gateway",))
    try:
        one = asyncio.run(measure(stack, 1, 20 if smoke else 300))
        thousand = asyncio.run(measure(stack, 1000, 3 if smoke else 40))
    finally:
        stack.stop()
    figs = [
        Figure("latency.create_task_1_url_p50_ms", statistics.median(one), "ms", None, None, f"{len(one)} calls"),
        Figure("latency.create_task_1_url_p99_ms", pct(one, 99), "ms", "<=", 10, f"{len(one)} calls"),
        Figure(
            "latency.create_task_1000_urls_p50_ms",
            statistics.median(thousand),
            "ms",
            None,
            None,
            f"{len(thousand)} calls",
        ),
        Figure("latency.create_task_1000_urls_p99_ms", pct(thousand, 99), "ms", "<=", 150, f"{len(thousand)} calls"),
    ]
    write_results("latency", figs)
    return figs


if __name__ == "__main__":
    for f in main("--smoke" in sys.argv):
        print(f.row())
