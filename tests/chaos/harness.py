"""Chaos harness: a real stack, real faults, and an audit of what came out.

Each scenario gets its own nats-server and PostgreSQL (restartable on the same port and
data), a `distill up` supervising the five services (it restarts what we kill, as
Kubernetes would), a page server with N pages, and one task of N items. A fault
injector runs while the task runs. Then the audit: every item in a terminal state, none
lost, exactly one export per item (Markdown file and exports row), every item's
terminal event and the task's terminal event in the EVENTS stream.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import nats
from distill.v1 import task_pb2
from distill_cli.embedded import NatsServer, PostgresServer
from distill_client import AsyncClient, DistillClientError
from distill_core.db.migrate import upgrade
from distill_core.db.session import make_engine
from sqlalchemy import text

from tests.e2e.conftest import PageServer, Stack, start_stack, stop_stack

FULL = os.environ.get("DISTILL_CHAOS_FULL") == "1"
ITEMS = int(os.environ.get("DISTILL_CHAOS_ITEMS", "1000" if FULL else "300"))

# Small timeouts so faults are noticed and recovered from in seconds, not minutes.
CHAOS_ENV = {
    "DISTILL_PARSER_ACK_WAIT": "4",
    "DISTILL_AI_ACK_WAIT": "4",
    "DISTILL_NOTION_ACK_WAIT": "4",
    "DISTILL_PARSER_BACKOFF": "0.2,0.5,1",
    "DISTILL_AI_BACKOFF": "0.2,0.5,1",
    "DISTILL_NOTION_BACKOFF": "0.2,0.5,1",
    "DISTILL_OUTBOX_DELAY": "2",
    "DISTILL_OUTBOX_INTERVAL": "1",
    "DISTILL_JANITOR_INTERVAL": "3",
    "DISTILL_ORPHAN_GRACE": "8",
    "DISTILL_RESTART_BACKOFF_MAX": "2",
    "DISTILL_WORKER_TTL": "5",
    "DISTILL_LOG_LEVEL": "WARNING",
}

TERMINAL_ITEM = {"succeeded", "failed", "cancelled"}
# How long the audit waits for the terminal events of items a dead worker had committed:
# its jobs' ack wait (4 s above), its restart (at most 2 s) and a margin.
EVENTS_GRACE = 20.0


def write_pages(folder: Path, n: int, extra: list[str] = ()) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"page-{i:04d}.html" for i in range(n - len(extra))] + list(extra)
    rng = random.Random(7)
    words = (
        "harbour tide winter storm village boat cooperative forecast engineer granite bulletin "
        "fisherman season catch drainage channel contractor report institute community"
    ).split()
    for i, name in enumerate(names):
        paras = "".join(
            "<p>" + " ".join(rng.choice(words) for _ in range(40)).capitalize() + f". Figure {i * 7 + k}.</p>"
            for k in range(4)
        )
        (folder / name).write_text(
            f"<html><head><title>Chaos page {i}</title></head><body><article>"
            f"<h1>Chaos page {i}</h1>{paras}</article></body></html>"
        )
    return names


@dataclass
class Env:
    root: Path
    nats: NatsServer
    pg: PostgresServer
    stack: Stack
    pages: PageServer
    extra_env: dict[str, str]
    faults: list[tuple[float, str]] = field(default_factory=list)

    def children(self) -> dict[str, int]:
        from tests.e2e.test_up import children

        return children(self.stack.proc.pid)

    def kill(self, service: str) -> bool:
        pid = self.children().get(service)
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        self.faults.append((time.monotonic(), f"SIGKILL {service}"))
        return True

    def restart_nats(self, down: float = 1.0) -> None:
        self.nats.kill()
        self.faults.append((time.monotonic(), "SIGKILL nats-server"))
        time.sleep(down)
        self.nats.start()

    def restart_postgres(self, down: float = 1.0) -> None:
        self.pg.kill()
        self.faults.append((time.monotonic(), "SIGKILL postgres"))
        time.sleep(down)
        self.pg.start()


def start_env(
    root: Path,
    pages: list[str] | None = None,
    env: dict[str, str] | None = None,
    n: int = ITEMS,
    extra_pages: list[str] = (),
) -> Env:
    nats_srv = NatsServer(root / "nats").start()
    pg = PostgresServer(root / "pg").start()  # durable commits, as in production
    upgrade(pg.url)
    extra = dict(CHAOS_ENV, DISTILL_NATS_URL=nats_srv.url, DISTILL_DATABASE_URL=pg.url, **(env or {}))
    stack = start_stack(root / "up", extra_env=extra)
    srv = PageServer(root / "pages")
    write_pages(srv.folder, n, list(extra_pages))
    return Env(root, nats_srv, pg, stack, srv, extra)


def stop_env(e: Env) -> None:
    stop_stack(e.stack.proc)
    e.pages.srv.shutdown()
    e.nats.stop()
    e.pg.stop()


async def retrying(fn: Callable[[], Awaitable[Any]], deadline: float) -> Any:
    """Call through gateway restarts: UNAVAILABLE and friends are retried until the deadline."""
    while True:
        try:
            return await fn()
        except DistillClientError as e:
            if (
                e.code
                not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.UNKNOWN,
                    grpc.StatusCode.INTERNAL,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                )
                or time.monotonic() > deadline
            ):
                raise
            await asyncio.sleep(0.5)


@dataclass
class Result:
    scenario: str
    items: int
    succeeded: int
    failed: int
    lost: int
    duplicate_exports: int
    duplicate_events: int
    missing_item_events: int
    task_event: bool
    faults: int
    seconds: float
    recovery_seconds: float
    failures_by_code: dict[str, int]
    dead_letters: dict[str, int]
    failed_inputs: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"chaos[{self.scenario}]: items={self.items} succeeded={self.succeeded} failed={self.failed} "
            f"lost={self.lost} duplicate_exports={self.duplicate_exports} "
            f"duplicate_events={self.duplicate_events} missing_item_events={self.missing_item_events} "
            f"task_event={self.task_event} faults={self.faults} seconds={self.seconds:.1f} "
            f"recovery_seconds={self.recovery_seconds:.1f} failures={self.failures_by_code} "
            f"dead_letters={self.dead_letters} failed_inputs={self.failed_inputs}"
        )


async def run_scenario(
    e: Env,
    name: str,
    urls: list[str],
    inject: Callable[[Env, asyncio.Event], Awaitable[None]] | None = None,
    timeout: float = 300.0,
) -> Result:
    t0 = time.monotonic()
    deadline = t0 + timeout
    key = f"chaos-{name}-{uuid.uuid4().hex[:8]}"
    done = asyncio.Event()
    async with AsyncClient(e.stack.gateway, e.stack.api_key, timeout=10) as client:
        injector = asyncio.create_task(inject(e, done)) if inject else None
        task = await retrying(lambda: client.submit(urls, idempotency_key=key), deadline)
        while True:
            t = await retrying(lambda: client.get_task(task.id), deadline)
            if t.status in (
                task_pb2.TASK_STATUS_SUCCEEDED,
                task_pb2.TASK_STATUS_FAILED,
                task_pb2.TASK_STATUS_PARTIALLY_FAILED,
                task_pb2.TASK_STATUS_CANCELLED,
            ):
                break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        done.set()
        if injector:
            await injector
    finished = time.monotonic()
    return await audit(e, name, task.id, len(urls), t0, finished)


async def audit(e: Env, name: str, task_id: str, n: int, t0: float, finished: float) -> Result:
    engine = make_engine(e.pg.url, pool_size=1)
    try:
        async with engine.connect() as conn:
            items = [
                dict(r._mapping)
                for r in await conn.execute(
                    text("SELECT id, status, error, input FROM items WHERE task_id = :t"), {"t": uuid.UUID(task_id)}
                )
            ]
            exports = Counter(
                r[0]
                for r in await conn.execute(
                    text("SELECT e.item_id FROM exports e JOIN items i ON i.id = e.item_id WHERE i.task_id = :t"),
                    {"t": uuid.UUID(task_id)},
                )
            )
            dead = Counter(
                r[0]
                for r in await conn.execute(
                    text("SELECT error_code FROM dead_letters WHERE task_id = :t OR task_id IS NULL"),
                    {"t": uuid.UUID(task_id)},
                )
            )
            tenant = (
                await conn.execute(text("SELECT tenant_id FROM tasks WHERE id = :t"), {"t": uuid.UUID(task_id)})
            ).scalar_one()
    finally:
        await engine.dispose()
    status = Counter(i["status"] for i in items)
    succeeded_ids = {str(i["id"]) for i in items if i["status"] == "succeeded"}
    files = Counter(p.name.rsplit("-", 1)[-1].removesuffix(".md") for p in (e.stack.data_dir / "exports").rglob("*.md"))
    dup_files = sum(c - 1 for c in files.values() if c > 1)
    missing_files = sum(1 for i in succeeded_ids if files.get(i[:8], 0) == 0)
    dup_rows = sum(c - 1 for c in exports.values() if c > 1)
    finished_items = {str(i["id"]) for i in items if i["status"] in ("succeeded", "failed")}
    # A worker that died after committing its last batch publishes that batch's events when
    # the job comes back (after the stage's ack wait, 4 s here, and the worker's restart): the
    # task can be finished in the database before then. Wait for them, bounded.
    events_due = time.monotonic() + EVENTS_GRACE
    while True:
        events = await read_events(e.nats.url, f"distill.events.{tenant}.{task_id}")
        terminal_items = {
            ev.item.id
            for ev in events
            if ev.type == task_pb2.EVENT_TYPE_ITEM_UPDATED
            and ev.item.status in (task_pb2.ITEM_STATUS_SUCCEEDED, task_pb2.ITEM_STATUS_FAILED)
        }
        if finished_items <= terminal_items or time.monotonic() > events_due:
            break
        await asyncio.sleep(1.0)
    ids = Counter(ev.event_id for ev in events)
    last_fault = max((t for t, _ in e.faults), default=t0)
    return Result(
        scenario=name,
        items=n,
        succeeded=status["succeeded"],
        failed=status["failed"],
        lost=n - sum(status[s] for s in TERMINAL_ITEM),
        duplicate_exports=dup_files + dup_rows + missing_files,
        duplicate_events=sum(c - 1 for c in ids.values() if c > 1),
        missing_item_events=len(finished_items - terminal_items),
        task_event=any(ev.terminal and ev.type == task_pb2.EVENT_TYPE_TASK_UPDATED for ev in events),
        faults=len(e.faults) + e.stack.log.read_text(errors="replace").count("exited with code 137"),
        seconds=finished - t0,
        recovery_seconds=max(0.0, finished - last_fault),
        failures_by_code=dict(Counter((i["error"] or {}).get("code", "?") for i in items if i["status"] == "failed")),
        dead_letters=dict(dead),
        failed_inputs=sorted(i["input"].rsplit("/", 1)[-1] for i in items if i["status"] == "failed")[:20],
    )


async def read_events(url: str, subject: str) -> list[task_pb2.TaskEvent]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy=nats.js.api.DeliverPolicy.ALL)
        out = []
        while True:
            try:
                m = await sub.next_msg(timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            out.append(task_pb2.TaskEvent.FromString(m.data))
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


def kill_repeatedly(
    service: str, every: tuple[float, float] = (2.0, 4.0), max_kills: int = 4, first: tuple[float, float] = (0.5, 1.5)
):
    """SIGKILL `service` up to `max_kills` times: the first kill `first` seconds into the
    task (a 300-item task can be done within 3 s), the next ones `every` seconds apart."""

    async def inject(e: Env, done: asyncio.Event) -> None:
        rng = random.Random(service)
        kills = 0
        while kills < max_kills and not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), rng.uniform(*(every if kills else first)))
                return
            except TimeoutError:
                pass
            if e.kill(service):
                kills += 1

    return inject
