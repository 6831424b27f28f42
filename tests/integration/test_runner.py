"""The stage runner against real NATS JetStream and PostgreSQL, with trivial stages."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from distill_core import nats as dnats
from distill_core.db.session import make_engine
from distill_core.errors import PermanentError, RetryableError
from distill_core.events import publish_all
from distill_core.runner import BaseStage, JobContext, StageResult, StageRunner, store
from distill_core.settings import Settings

from tests.helpers import first_jobs, item_rows, make_task, make_tenant, task_status, wait_for

pytestmark = pytest.mark.integration


class Echo(BaseStage):
    def __init__(self, name: str, fail: dict[str, Any] | None = None) -> None:
        self.name = name
        self.fail = fail or {}
        self.calls: list[str] = []

    async def handle(self, ctx: JobContext) -> StageResult:
        self.calls.append(ctx.item["input"])
        rule = self.fail.get(ctx.item["input"])
        if rule == "permanent":
            raise PermanentError("nope", code="TEST_PERMANENT")
        if rule == "retryable":
            raise RetryableError("later", code="TEST_RETRYABLE")
        if rule == "hangs" or (rule == "hangs-once" and self.calls.count(ctx.item["input"]) == 1):
            await asyncio.sleep(60)
        return StageResult(title=f"{self.name}:{ctx.item['input']}")


@pytest.fixture
async def env(nats_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for svc in ("PARSER", "AI", "NOTION"):
        monkeypatch.setenv(f"DISTILL_{svc}_BACKOFF", "0.1,0.1,0.1")
        monkeypatch.setenv(f"DISTILL_{svc}_MAX_ATTEMPTS", "3")
    settings = Settings(nats_url=nats_url, database_url=database_url)
    nc = await dnats.connect(settings, "test")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, settings)
    await js.purge_stream("JOBS")
    engine = make_engine(database_url, pool_size=4)
    yield settings, js, engine
    await engine.dispose()
    await nc.close()


async def run_stages(settings: Settings, stages: list[BaseStage]) -> list[StageRunner]:
    runners = [StageRunner(s, settings) for s in stages]
    for r in runners:
        await r.start()
    return runners


async def test_items_flow_through_three_stages(env: Any) -> None:
    settings, js, engine = env
    tenant, _ = await make_tenant(engine)
    task_id, items = await make_task(engine, tenant, [f"u{i}" for i in range(20)])
    runners = await run_stages(settings, [Echo("parse"), Echo("ai"), Echo("notion")])
    try:
        await publish_all(js, first_jobs(items))
        await wait_for(lambda: _done(engine, task_id), what="task to finish")
        assert await task_status(engine, task_id) == "succeeded"
        rows = await item_rows(engine, task_id)
        assert {r["status"] for r in rows} == {"succeeded"}
        assert all(r["title"].startswith("notion:") for r in rows)
    finally:
        for r in runners:
            await r.stop()


async def test_permanent_failure_fails_item_not_task(env: Any) -> None:
    settings, js, engine = env
    tenant, _ = await make_tenant(engine)
    task_id, items = await make_task(engine, tenant, ["ok1", "bad", "ok2"], stages=["parse"])
    stage = Echo("parse", fail={"bad": "permanent"})
    runners = await run_stages(settings, [stage])
    try:
        await publish_all(js, first_jobs(items))
        await wait_for(lambda: _done(engine, task_id), what="task to finish")
        rows = {r["input"]: r for r in await item_rows(engine, task_id)}
        assert rows["bad"]["status"] == "failed"
        assert rows["bad"]["error"]["code"] == "TEST_PERMANENT"
        assert rows["ok1"]["status"] == rows["ok2"]["status"] == "succeeded"
        assert await task_status(engine, task_id) == "partially_failed"
        assert stage.calls.count("bad") == 1  # permanent: not retried
    finally:
        for r in runners:
            await r.stop()


async def test_retryable_failure_is_retried_then_fails(env: Any) -> None:
    settings, js, engine = env
    tenant, _ = await make_tenant(engine)
    task_id, items = await make_task(engine, tenant, ["flaky"], stages=["parse"])
    stage = Echo("parse", fail={"flaky": "retryable"})
    runners = await run_stages(settings, [stage])
    try:
        await publish_all(js, first_jobs(items))
        await wait_for(lambda: _done(engine, task_id), what="task to finish")
        rows = await item_rows(engine, task_id)
        assert rows[0]["status"] == "failed"
        assert rows[0]["error"]["retryable"] is True
        assert rows[0]["error"]["attempt"] == 3
        assert stage.calls.count("flaky") == 3
        assert await task_status(engine, task_id) == "failed"
    finally:
        for r in runners:
            await r.stop()


async def test_attempt_past_the_stage_timeout_is_interrupted_and_retried(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, js, engine = env
    monkeypatch.setenv("DISTILL_PARSER_TIMEOUT", "0.3")
    settings = Settings(nats_url=env[0].nats_url, database_url=env[0].database_url)
    tenant, _ = await make_tenant(engine)
    task_id, items = await make_task(engine, tenant, ["hangs", "hangs-once", "quick"], stages=["parse"])
    stage = Echo("parse", fail={"hangs": "hangs", "hangs-once": "hangs-once"})
    runners = await run_stages(settings, [stage])
    try:
        await publish_all(js, first_jobs(items))
        await wait_for(lambda: _done(engine, task_id), what="task to finish")
        rows = {r["input"]: r for r in await item_rows(engine, task_id)}
        assert rows["hangs"]["status"] == "failed"
        assert rows["hangs"]["error"]["code"] == "TIMEOUT"
        assert "did not finish within 0.3 s" in rows["hangs"]["error"]["message"]
        assert rows["hangs"]["error"]["attempt"] == 3
        assert stage.calls.count("hangs") == 3
        assert rows["hangs-once"]["status"] == rows["quick"]["status"] == "succeeded"
        assert stage.calls.count("hangs-once") == 2
        assert await task_status(engine, task_id) == "partially_failed"
    finally:
        for r in runners:
            await r.stop()


class Reports(BaseStage):
    """Reports progress at once, or (input "slow") after most of a second, then finishes."""

    name = "parse"

    async def handle(self, ctx: JobContext) -> StageResult:
        slow = ctx.item["input"] == "slow"
        if slow:
            await asyncio.sleep(0.7)
        await ctx.progress(50, f"half of {ctx.item['input']}")
        await ctx.progress(60, "too soon after the last")
        if slow:
            await asyncio.sleep(0.1)
        return StageResult()


async def test_progress_shows_for_slow_attempts_only(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An attempt's first half second shows no progress (its end follows soon): a fast
    attempt writes none, a slow one still reports, rate-limited."""
    from distill.v1 import task_pb2
    from distill_core import subjects

    settings, js, engine = env
    tenant, _ = await make_tenant(engine)
    task_id, items = await make_task(engine, tenant, ["fast", "slow"], stages=["parse"])
    seen: list[task_pb2.TaskEvent] = []
    writes: list[tuple[str, int]] = []
    set_progress = store.set_progress

    async def counted(conn: Any, stage: str, item_id: str, progress: int, message: str) -> None:
        writes.append((message, progress))
        await set_progress(conn, stage, item_id, progress, message)

    monkeypatch.setattr(store, "set_progress", counted)

    async def on_event(msg: Any) -> None:
        seen.append(task_pb2.TaskEvent.FromString(msg.data))

    sub = await js._nc.subscribe(subjects.event_subject(tenant, str(task_id)), cb=on_event)
    runners = await run_stages(settings, [Reports()])
    try:
        await publish_all(js, first_jobs(items))
        await wait_for(lambda: _done(engine, task_id), what="task to finish")
        await asyncio.sleep(0.2)
        progress = {
            (ev.item.input, p.progress, p.message)
            for ev in seen
            if ev.HasField("item")
            for p in ev.item.phases
            if p.status == task_pb2.PHASE_STATUS_RUNNING and p.message
        }
        assert progress == {("slow", 50, "half of slow")}
        assert writes == [("half of slow", 50)]
        assert {r["input"] for r in await item_rows(engine, task_id) if r["status"] == "succeeded"} == {"fast", "slow"}
    finally:
        await sub.unsubscribe()
        for r in runners:
            await r.stop()


async def _done(engine: Any, task_id: Any) -> bool:
    return await task_status(engine, task_id) in ("succeeded", "failed", "partially_failed", "cancelled")
