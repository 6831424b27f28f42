"""Event latency from a stage's completion to WatchTask watchers, with 1 and 500 watchers on one gateway.

    python -m bench.watch_latency [--watchers 1,500] [--events 100] [--rate 20] [--slow 10]

Starts NATS and PostgreSQL (embedded) and one gateway process, opens the watchers (gRPC
streams over a few connections, in this process), then publishes item events the way a
stage does when it completes (`distill_core.runner.events`), `--rate` per second. The
latency of one event at one watcher is its arrival time minus the time the stage stamped
on it, so it includes the JetStream hop, the gateway and gRPC. `--slow` watchers that read
one event a second run beside the others in the largest round: they must be dropped with
RESOURCE_EXHAUSTED once they fall far enough behind (tests/integration/test_gateway_watch_load.py
shows that), and the others must not notice them.

Writes bench/results/watch_latency.json. Target: p99 under 50 ms on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
from distill.v1 import pipeline_pb2, pipeline_pb2_grpc, task_pb2
from distill_cli.embedded import NatsServer, PostgresServer, free_port, wait_port
from distill_core import apikeys
from distill_core import nats as dnats
from distill_core.db.migrate import upgrade
from distill_core.db.session import make_engine
from distill_core.events import item_event, publish_all
from distill_core.settings import Settings

from bench.common import Figure, write_results

STREAMS_PER_CHANNEL = 100


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


class Watchers:
    def __init__(self, target: str, key: str, task_id: str) -> None:
        self.target, self.key, self.task_id = target, key, task_id
        self.latencies: list[float] = []
        self.ready = 0
        self.dropped: list[str] = []
        self.errors: list[str] = []
        self.channels: list[grpc.aio.Channel] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self, n: int, slow: bool = False) -> None:
        for i in range(n):
            if i % STREAMS_PER_CHANNEL == 0:
                self.channels.append(grpc.aio.insecure_channel(self.target))
            stub = pipeline_pb2_grpc.PipelineStub(self.channels[-1])
            self.tasks.append(asyncio.create_task(self._watch(stub, slow)))

    async def _watch(self, stub: Any, slow: bool) -> None:
        call = stub.WatchTask(
            pipeline_pb2.WatchTaskRequest(task_id=self.task_id), metadata=[("authorization", f"Bearer {self.key}")]
        )
        try:
            async for ev in call:
                now = time.time()
                if ev.type == task_pb2.EVENT_TYPE_SNAPSHOT:
                    self.ready += 1
                    continue
                if ev.type != task_pb2.EVENT_TYPE_ITEM_UPDATED:
                    continue
                if slow:
                    await asyncio.sleep(1.0)
                    continue
                self.latencies.append(now - (ev.time.seconds + ev.time.nanos / 1e9))
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                self.dropped.append(e.details() or "")
            elif e.code() != grpc.StatusCode.CANCELLED:
                self.errors.append(f"{e.code().name}: {e.details()}")

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for c in self.channels:
            await c.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_round(
    target: str,
    key: str,
    js: Any,
    tenant: str,
    task_id: str,
    n: int,
    events: int,
    rate: float,
    slow: int,
    gateway_pid: int,
) -> dict[str, Any]:
    fast = Watchers(target, key, task_id)
    laggards = Watchers(target, key, task_id)
    await fast.open(n)
    await laggards.open(slow, slow=True)
    t0 = time.monotonic()
    while fast.ready + laggards.ready < n + slow and time.monotonic() - t0 < 120:
        await asyncio.sleep(0.05)
    opened = time.monotonic() - t0
    item = task_pb2.Item(id=str(uuid.uuid4()), task_id=task_id, status=task_pb2.ITEM_STATUS_RUNNING)
    gw_cpu, own_cpu, wall = cpu_seconds(gateway_pid), time.process_time(), time.monotonic()
    for i in range(events):
        item.title = f"event {i}"
        await publish_all(js, [item_event(tenant, item, f"{task_id}:bench:{n}:{i}")])
        await asyncio.sleep(1 / rate)
    deadline = time.monotonic() + 30
    while len(fast.latencies) < n * events and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    gw_cpu, own_cpu, wall = (
        cpu_seconds(gateway_pid) - gw_cpu,
        time.process_time() - own_cpu,
        time.monotonic() - wall,
    )
    await asyncio.sleep(min(3.0, 1.0 + slow))
    out = {
        "gateway_cpu_share": gw_cpu / wall,
        "clients_cpu_share": own_cpu / wall,
        "watchers": n,
        "ready": fast.ready,
        "open_s": opened,
        "samples": len(fast.latencies),
        "expected": n * events,
        "p50_ms": pct(fast.latencies, 50) * 1000,
        "p99_ms": pct(fast.latencies, 99) * 1000,
        "max_ms": max(fast.latencies, default=float("nan")) * 1000,
        "mean_ms": statistics.fmean(fast.latencies) * 1000 if fast.latencies else float("nan"),
        "slow": slow,
        "slow_dropped": len(laggards.dropped),
        "drop_message": laggards.dropped[0] if laggards.dropped else "",
        "errors": fast.errors[:3],
    }
    await fast.close()
    await laggards.close()
    return out


async def run(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp))
    nats = NatsServer(tmp / "nats").start()
    pg = PostgresServer(tmp / "pg", fsync=False).start()
    gateway: subprocess.Popen[bytes] | None = None
    try:
        upgrade(pg.url)
        port = free_port()
        env = dict(
            os.environ,
            DISTILL_NATS_URL=nats.url,
            DISTILL_DATABASE_URL=pg.url,
            DISTILL_GRPC_PORT=str(port),
            DISTILL_METRICS_PORT="0",
            DISTILL_LOG_LEVEL="WARNING",
        )
        cmd = [sys.executable, "-m", "distill_gateway"]
        if os.environ.get("BENCH_PROFILE"):  # the gateway under cProfile, stats written on exit
            cmd = [sys.executable, "-m", "cProfile", "-o", os.environ["BENCH_PROFILE"], "-m", "distill_gateway"]
        gateway = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)  # noqa: ASYNC220
        wait_port("127.0.0.1", port, 60, gateway, "gateway")
        engine = make_engine(pg.url, pool_size=2)
        async with engine.begin() as conn:
            key, _ = await apikeys.create_key(conn, "bench")
            caller = await apikeys.verify(conn, key)
        await engine.dispose()
        assert caller is not None
        nc = await dnats.connect(Settings(nats_url=nats.url), "bench")
        js = dnats.jetstream(nc)
        target = f"127.0.0.1:{port}"
        async with grpc.aio.insecure_channel(target) as ch:
            task = await pipeline_pb2_grpc.PipelineStub(ch).CreateTask(
                pipeline_pb2.CreateTaskRequest(urls=["https://example.com/bench"]),
                metadata=[("authorization", f"Bearer {key}")],
            )
        rounds = []
        counts = [int(x) for x in args.watchers.split(",")]
        for n in counts:
            slow = args.slow if n == max(counts) else 0
            r = await one_round(
                target, key, js, caller.tenant_id, task.id, n, args.events, args.rate, slow, gateway.pid
            )
            rounds.append(r)
            print(
                f"{n:>4} watchers: p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  max {r['max_ms']:.1f} ms  "
                f"({r['samples']}/{r['expected']} events, opened in {r['open_s']:.1f} s; "
                f"gateway CPU {r['gateway_cpu_share']:.0%}, watchers' CPU {r['clients_cpu_share']:.0%}) "
                f"{r['errors'] or ''}"
            )
        await nc.close()
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(20)
        pg.stop()
        nats.stop()
    figures = []
    for r in rounds:
        n = r["watchers"]
        figures += [
            Figure(f"watch latency p50, {n} watchers", r["p50_ms"], "ms"),
            Figure(
                f"watch latency p99, {n} watchers",
                r["p99_ms"],
                "ms",
                "<=",
                50.0,
                note=f"{r['slow']} slow readers beside" if r["slow"] else "",
            ),
            Figure(f"events delivered, {n} watchers", r["samples"] / max(1, r["expected"]), "share", ">=", 1.0),
            Figure(f"gateway CPU while publishing, {n} watchers", r["gateway_cpu_share"], "cores"),
        ]
    path = write_results("watch_latency", figures)
    for f in figures:
        print(f.row())
    print(f"results in {path}")
    return 0 if all(f.ok is not False for f in figures) else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--watchers", default="1,500", help="watcher counts, comma separated")
    p.add_argument("--events", type=int, default=100, help="events per round")
    p.add_argument("--rate", type=float, default=20.0, help="events per second")
    p.add_argument("--slow", type=int, default=10, help="slow watchers beside the largest round")
    return p


def main(smoke: bool = False) -> None:
    """Entry point of `python -m bench` (results go to bench/results/watch_latency.json)."""
    argv = ["--watchers", "1,50", "--events", "20", "--slow", "2"] if smoke else []
    asyncio.run(run(parser().parse_args(argv)))


def cli() -> None:
    raise SystemExit(asyncio.run(run(parser().parse_args())))


if __name__ == "__main__":
    cli()
