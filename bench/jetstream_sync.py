"""JetStream durability trade-off: a bare 3-hop chain with the default fsync and with
`sync_interval: always` (Jepsen 2025: NATS acknowledges before fsync by default).

    python -m bench.jetstream_sync            # 5,000 items per run
Writes bench/results/jetstream_sync.json.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import nats
from distill_cli.embedded import NatsServer
from nats.js import api

from bench.common import Figure, write_results

HOPS = ("a", "b", "c")


async def chain(url: str, n: int, batch: int = 256) -> float:
    """Items/s through three WorkQueue hops, one pull consumer per hop, as bare as it gets."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(
        api.StreamConfig(
            name="CHAIN", subjects=["chain.>"], retention=api.RetentionPolicy.WORK_QUEUE, storage=api.StorageType.FILE
        )
    )
    subs = []
    for h in HOPS:
        await js.add_consumer(
            "CHAIN",
            api.ConsumerConfig(
                durable_name=h, filter_subject=f"chain.{h}", ack_policy=api.AckPolicy.EXPLICIT, max_ack_pending=-1
            ),
        )
        subs.append(await js.pull_subscribe_bind(durable=h, stream="CHAIN"))
    done = asyncio.Event()
    finished = 0

    async def hop(i: int) -> None:
        nonlocal finished
        nxt = f"chain.{HOPS[i + 1]}" if i + 1 < len(HOPS) else None
        while not done.is_set():
            try:
                msgs = await subs[i].fetch(batch, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            if nxt:
                await asyncio.gather(*(js.publish(nxt, m.data) for m in msgs))
            await asyncio.gather(*(m.ack() for m in msgs))
            if not nxt:
                finished += len(msgs)
                if finished >= n:
                    done.set()

    t0 = time.perf_counter()
    workers = [asyncio.create_task(hop(i)) for i in range(len(HOPS))]
    for start in range(0, n, 1000):
        await asyncio.gather(*(js.publish("chain.a", b"x" * 64) for _ in range(start, min(n, start + 1000))))
    await done.wait()
    dt = time.perf_counter() - t0
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    await nc.close()
    return n / dt


def main(smoke: bool = False) -> list[Figure]:
    n = 500 if smoke else 5000
    rates = {}
    for label, sync in (("default_fsync", False), ("sync_always", True)):
        with tempfile.TemporaryDirectory() as d:
            srv = NatsServer(Path(d), sync_always=sync).start()
            try:
                rates[label] = asyncio.run(chain(srv.url, n))
            finally:
                srv.stop()
    ratio = rates["sync_always"] / rates["default_fsync"]
    print(
        f"3-hop bare JetStream chain, {n} items: default fsync {rates['default_fsync']:.1f} items/s, "
        f"sync_interval always {rates['sync_always']:.1f} items/s (x{ratio:.3f})"
    )
    figs = [
        Figure("jetstream_sync.default_fsync_items_per_s", rates["default_fsync"], "items/s", note=f"{n} items"),
        Figure("jetstream_sync.sync_always_items_per_s", rates["sync_always"], "items/s", note=f"{n} items"),
        Figure("jetstream_sync.sync_always_vs_default", ratio, "x", note="sync_interval: always / default"),
    ]
    write_results("jetstream_sync", figs)
    return figs


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
