"""Orchestration throughput: N items through a three-stage chain with trivial handlers.

Distill (the real stage runner, one process per stage, PostgreSQL state and events
included) against the same chain built the usual way on RQ (three queues, each job
enqueueing the next, SimpleWorker) and on Celery (a chain over a Redis broker, solo
workers), and against bare nats-py (publish, pull, ack: the messaging ceiling). Each
system is started fresh; all run on this machine in the same run.

    python -m bench.orchestration [--smoke] [--items N]
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from distill_cli.embedded import NatsServer, PostgresServer, free_port

from bench.common import ROOT, Figure, write_results
from bench.cpu import CpuMeter, cpu_figures
from bench.jetstream_sync import chain

PY = sys.executable


def _wait_counter(url: str, n: int, timeout: float) -> float:
    from redis import Redis

    r = Redis.from_url(url)
    deadline = time.monotonic() + timeout
    while int(r.get("bench:done") or 0) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {int(r.get('bench:done') or 0)} of {n} items finished")
        time.sleep(0.02)
    return time.perf_counter()


def run_rq(n: int, timeout: float = 600) -> float:
    from redis import Redis
    from rq import Queue

    from bench._servers import Redis as RedisServer

    srv = RedisServer().start()
    env = dict(os.environ, BENCH_REDIS_URL=srv.url, PYTHONPATH=str(ROOT))
    workers = [
        subprocess.Popen(
            [PY, "-m", "rq.cli", "worker", "-w", "rq.worker.SimpleWorker", "-u", srv.url, q, "-q"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for q in ("q1", "q2", "q3")
    ]
    try:
        time.sleep(2.0)  # workers up
        from bench import _rq_jobs

        os.environ["BENCH_REDIS_URL"] = srv.url
        q1 = Queue("q1", connection=Redis.from_url(srv.url))
        t0 = time.perf_counter()
        with q1.connection.pipeline() as pipe:
            for i in range(n):
                q1.enqueue(_rq_jobs.stage1, i, pipeline=pipe)
            pipe.execute()
        t1 = _wait_counter(srv.url, n, timeout)
        return n / (t1 - t0)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(10)
        srv.stop()


def run_celery(n: int, timeout: float = 600) -> float:
    from bench._servers import Redis as RedisServer

    srv = RedisServer().start()
    env = dict(os.environ, BENCH_REDIS_URL=srv.url, PYTHONPATH=str(ROOT))
    workers = [
        subprocess.Popen(
            [
                PY,
                "-m",
                "celery",
                "-A",
                "bench._celery_app",
                "worker",
                "-Q",
                q,
                "--pool",
                "solo",
                "--prefetch-multiplier",
                "64",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for q in ("q1", "q2", "q3")
    ]
    try:
        time.sleep(4.0)
        os.environ["BENCH_REDIS_URL"] = srv.url
        from celery import chain as cchain

        from bench import _celery_app

        _celery_app.app.conf.broker_url = srv.url
        t0 = time.perf_counter()
        for i in range(n):
            cchain(_celery_app.s1.s(i), _celery_app.s2.s(), _celery_app.s3.s()).apply_async()
        t1 = _wait_counter(srv.url, n, timeout)
        return n / (t1 - t0)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(20)
        srv.stop()


async def _run_distill(n: int, timeout: float) -> tuple[float, dict[str, float]]:
    """Items/s through the three stages, and the CPU seconds each part spent meanwhile."""
    from distill_core import nats as dnats
    from distill_core.db.migrate import upgrade
    from distill_core.db.session import make_engine
    from distill_core.events import publish_all
    from distill_core.settings import Settings

    from tests.helpers import first_jobs, make_task, make_tenant, task_status

    d = Path(tempfile.mkdtemp(prefix="bench-distill-"))
    nats_srv = NatsServer(d / "nats").start()
    pg = PostgresServer(d / "pg").start()
    procs: list[subprocess.Popen] = []
    try:
        upgrade(pg.url)
        env = dict(
            os.environ,
            DISTILL_NATS_URL=nats_srv.url,
            DISTILL_DATABASE_URL=pg.url,
            DISTILL_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
        )
        for svc in ("PARSER", "AI", "NOTION"):
            env[f"DISTILL_{svc}_CONCURRENCY"] = "1024"
            env[f"DISTILL_{svc}_BATCH_SIZE"] = "256"
        settings = Settings(nats_url=nats_srv.url, database_url=pg.url)
        nc = await dnats.connect(settings, "bench")
        js = nc.jetstream()
        await dnats.ensure_topology(js, settings)
        procs = [
            subprocess.Popen(  # noqa: ASYNC220  (started once, before timing)
                [PY, "-m", "bench._trivial_stage", st],
                env=dict(env, DISTILL_HEALTH_PORT=str(free_port())),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for st in ("parse", "ai", "notion")
        ]
        engine = make_engine(pg.url, pool_size=2)
        await _wait_workers(js, 3, 30)
        tenant, _ = await make_tenant(engine)
        task_id, items = await make_task(engine, tenant, [f"item-{i}" for i in range(n)])
        jobs = first_jobs(items)
        meter = CpuMeter(
            {
                **{st: [p.pid] for st, p in zip(("parse", "ai", "notion"), procs, strict=True)},
                "postgres": [pg.proc.pid],  # type: ignore[union-attr]
                "nats": [nats_srv.proc.pid],  # type: ignore[union-attr]
                "driver": [os.getpid()],
            }
        )
        cpu0 = meter.sample()
        t0 = time.perf_counter()
        for i in range(0, len(jobs), 1000):
            await publish_all(js, jobs[i : i + 1000])
        deadline = time.monotonic() + timeout
        while await task_status(engine, task_id) != "succeeded":
            if time.monotonic() > deadline:
                raise TimeoutError("the Distill chain did not finish in time")
            await asyncio.sleep(0.02)
        dt = time.perf_counter() - t0
        spent = meter.since(cpu0)
        await engine.dispose()
        await nc.close()
        return n / dt, spent
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        nats_srv.stop()
        pg.stop()


async def _wait_workers(js: Any, count: int, timeout: float) -> None:
    """Until `count` stage workers have announced themselves in the workers bucket."""
    from distill_core.runner.presence import workers_bucket

    kv = await workers_bucket(js, 15)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(await kv.keys()) >= count:
                return
        except Exception:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError("stage workers did not start")


def run_bare_nats(n: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        srv = NatsServer(Path(d)).start()
        try:
            return asyncio.run(chain(srv.url, n))
        finally:
            srv.stop()


def main(smoke: bool = False, items: int | None = None) -> list[Figure]:
    n = items or (300 if smoke else 5000)
    baseline_n = min(n, 300 if smoke else 2000)  # RQ at ~120 items/s: 2,000 items is plenty to measure
    distill, spent = asyncio.run(_run_distill(n, 600))
    bare = run_bare_nats(n)
    rq = run_rq(baseline_n)
    celery = run_celery(baseline_n)
    figs = [
        Figure("orchestration.distill_items_per_s", distill, "items/s", ">=", 1000, f"{n} items, 3 stages"),
        Figure("orchestration.rq_items_per_s", rq, "items/s", None, None, f"{baseline_n} items"),
        Figure("orchestration.celery_items_per_s", celery, "items/s", None, None, f"{baseline_n} items"),
        Figure("orchestration.bare_nats_items_per_s", bare, "items/s", None, None, f"{n} items"),
        Figure("orchestration.distill_vs_rq", distill / rq, "x", ">=", 8, "ratio"),
        Figure("orchestration.distill_vs_celery", distill / celery, "x", None, None, "ratio"),
        Figure("orchestration.distill_share_of_bare_nats", distill / bare, "ratio", ">=", 0.25, "fraction"),
        *cpu_figures("orchestration.distill", spent, n, n / distill),
    ]
    write_results("orchestration", figs)
    return figs


if __name__ == "__main__":
    smoke = "--smoke" in sys.argv
    items = int(sys.argv[sys.argv.index("--items") + 1]) if "--items" in sys.argv else None
    for f in main(smoke, items):
        print(f.row())
