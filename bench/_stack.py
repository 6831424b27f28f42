"""A Distill stack for benchmarks: embedded NATS and PostgreSQL, services as processes.

Like `distill up`, but with any number of replicas per service and direct access to
each process (for RSS sampling).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from distill_cli.embedded import NatsServer, PostgresServer, free_port
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.common import ROOT

KEY = "bench-api-key-0123456789abcdef"


@dataclass
class Proc:
    service: str
    port: int
    proc: subprocess.Popen


@dataclass
class Stack:
    root: Path
    nats: NatsServer
    pg: PostgresServer
    procs: list[Proc] = field(default_factory=list)
    gateway: str = ""

    def pids(self, service: str) -> list[int]:
        return [p.proc.pid for p in self.procs if p.service == service]

    def stop(self) -> None:
        for p in self.procs:
            if p.proc.poll() is None:
                p.proc.terminate()
        for p in self.procs:
            try:
                p.proc.wait(30)
            except subprocess.TimeoutExpired:
                p.proc.kill()
        self.nats.stop()
        self.pg.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start(
    replicas: dict[str, int] | None = None,
    env: dict[str, str] | None = None,
    services: tuple[str, ...] = ("gateway", "parser", "ai", "notion", "notifier"),
) -> Stack:
    replicas = replicas or {}
    root = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    nats_srv = NatsServer(root / "nats").start()
    pg = PostgresServer(root / "pg").start()
    from distill_core.db.migrate import upgrade

    upgrade(pg.url)
    _dev_key(pg.url)
    stack = Stack(root, nats_srv, pg)
    base = dict(
        os.environ,
        DISTILL_NATS_URL=nats_srv.url,
        DISTILL_DATABASE_URL=pg.url,
        DISTILL_LOG_LEVEL="WARNING",
        DISTILL_EXPORT_DIR=str(root / "exports"),
        DISTILL_PARSER_ALLOW_PRIVATE_NETWORKS="true",
        PYTHONPATH=str(ROOT),
        **(env or {}),
    )
    for svc in services:
        for _ in range(replicas.get(svc, 1)):
            port = free_port()
            e = dict(base, DISTILL_METRICS_PORT="0")
            e["DISTILL_GRPC_PORT" if svc == "gateway" else "DISTILL_HEALTH_PORT"] = str(port)
            proc = subprocess.Popen(
                [sys.executable, "-m", f"distill_{svc}"],
                env=e,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=open(root / f"{svc}-{port}.log", "w"),
            )
            stack.procs.append(Proc(svc, port, proc))
            if svc == "gateway":
                stack.gateway = f"127.0.0.1:{port}"
    try:
        for p in stack.procs:
            _wait_serving(p, 120)
    except Exception:
        stack.stop()
        raise
    return stack


def _wait_serving(p: Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"127.0.0.1:{p.port}") as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.monotonic() < deadline:
            if p.proc.poll() is not None:
                raise RuntimeError(f"{p.service} exited with {p.proc.returncode}")
            with contextlib.suppress(grpc.RpcError):
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            time.sleep(0.1)
    raise TimeoutError(f"{p.service} not serving after {timeout:.0f} s")


def _dev_key(url: str) -> None:
    import asyncio

    from distill_core import apikeys
    from distill_core.db.session import make_engine

    async def go() -> None:
        engine = make_engine(url, pool_size=1)
        async with engine.begin() as conn:
            await apikeys.create_key(conn, "bench", key=KEY)
        await engine.dispose()

    asyncio.run(go())
