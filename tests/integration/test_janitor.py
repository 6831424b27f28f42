"""The janitor: retention, tasks left unfinished, orphaned items (real NATS and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from distill_core import nats as dnats
from distill_core.db.session import make_engine
from distill_core.events import publish_all
from distill_core.runner import BaseStage, JobContext, StageResult, StageRunner
from distill_core.settings import GatewaySettings
from distill_gateway.janitor import Janitor
from sqlalchemy import text

from tests.helpers import first_jobs, item_rows, make_task, make_tenant, task_status, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
async def env(nats_url: str, database_url: str):  # type: ignore[no-untyped-def]
    settings = GatewaySettings(nats_url=nats_url, database_url=database_url, orphan_grace=0.5)
    nc = await dnats.connect(settings, "test-janitor")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, settings)
    await js.purge_stream("JOBS")
    engine = make_engine(database_url, pool_size=4)
    yield settings, js, engine
    await engine.dispose()
    await nc.close()


async def _exec(engine: Any, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)


async def _count(engine: Any, sql: str, **params: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def test_retention_deletes_old_tasks_and_their_content_but_keeps_shared_content(env: Any) -> None:
    settings, js, engine = env
    tenant, _ = await make_tenant(engine)
    old_ok, old_items = await make_task(engine, tenant, ["a"], stages=["parse"])
    old_failed, _ = await make_task(engine, tenant, ["b"], stages=["parse"])
    recent_failed, _ = await make_task(engine, tenant, ["c"], stages=["parse"])
    pc_shared, pc_own = uuid.uuid4(), uuid.uuid4()
    for pc, item in ((pc_shared, old_items[0]["id"]), (pc_own, None)):
        await _exec(
            engine,
            "INSERT INTO parsed_contents (id, tenant_id, item_id, url, text, word_count, structured, "
            "no_content) VALUES (:id, :t, :i, 'u', 'x', 1, '{}', false)",
            id=pc,
            t=tenant,
            i=item,
        )
    await _exec(engine, "UPDATE items SET parsed_content_id = :pc WHERE id = :i", pc=pc_own, i=old_items[0]["id"])
    # A newer task still uses pc_shared as its input: it must survive.
    newer, _ = await make_task(engine, tenant, [str(pc_shared)], stages=["ai"], kind="parsed_content")
    await _exec(engine, "UPDATE items SET parsed_content_id = :pc WHERE task_id = :t", pc=pc_shared, t=newer)
    await _exec(
        engine, "UPDATE tasks SET status = 'succeeded', finished_at = now() - interval '8 days' WHERE id = :t", t=old_ok
    )
    await _exec(
        engine,
        "UPDATE tasks SET status = 'failed', finished_at = now() - interval '31 days' WHERE id = :t",
        t=old_failed,
    )
    await _exec(
        engine,
        "UPDATE tasks SET status = 'failed', finished_at = now() - interval '8 days' WHERE id = :t",
        t=recent_failed,
    )

    done = await Janitor(settings, engine, js).run_once()

    assert done["deleted_tasks"] == 2
    remaining = {
        r
        for r in [old_ok, old_failed, recent_failed, newer]
        if await _count(engine, "SELECT count(*) FROM tasks WHERE id = :t", t=r)
    }
    assert remaining == {recent_failed, newer}
    assert await _count(engine, "SELECT count(*) FROM items WHERE task_id = :t", t=old_ok) == 0
    assert await _count(engine, "SELECT count(*) FROM parsed_contents WHERE id = :p", p=pc_own) == 0
    assert await _count(engine, "SELECT count(*) FROM parsed_contents WHERE id = :p", p=pc_shared) == 1


async def test_task_with_all_items_done_but_never_finished_is_finished(env: Any) -> None:
    settings, js, engine = env
    tenant, _ = await make_tenant(engine)
    task_id, _ = await make_task(engine, tenant, ["a", "b"], stages=["parse"])
    await _exec(
        engine,
        "UPDATE items SET status = CASE WHEN position = 0 THEN 'succeeded' ELSE 'failed' END WHERE task_id = :t",
        t=task_id,
    )
    await _exec(
        engine, "UPDATE tasks SET status = 'running', updated_at = now() - interval '1 minute' WHERE id = :t", t=task_id
    )
    done = await Janitor(settings, engine, js).run_once()
    assert done["finished_tasks"] >= 1
    assert await task_status(engine, task_id) == "partially_failed"


class Echo(BaseStage):
    name = "parse"

    async def handle(self, ctx: JobContext) -> StageResult:
        return StageResult(title="done")


async def test_orphaned_item_is_requeued_and_finishes(env: Any) -> None:
    settings, js, engine = env
    tenant, _ = await make_tenant(engine)
    task_id, items = await make_task(engine, tenant, ["lost", "fine"], stages=["parse"])
    # Both were dispatched, but the job of "lost" never reached JetStream (a NATS crash).
    await _exec(
        engine,
        "UPDATE items SET dispatched_at = now(), updated_at = now() - interval '1 minute' WHERE task_id = :t",
        t=task_id,
    )
    await publish_all(js, first_jobs([i for i in items if i["input"] == "fine"]))
    runner = StageRunner(Echo(), settings)
    await runner.start()
    try:
        await wait_for(lambda: _item_done(engine, task_id, "fine"), what="the healthy item")
        assert (await item_rows(engine, task_id))[0]["status"] == "pending"
        done = await Janitor(settings, engine, js).run_once()
        assert done["requeued_items"] == 1
        await wait_for(lambda: _task_done(engine, task_id), what="the re-queued item to finish")
        assert await task_status(engine, task_id) == "succeeded"
    finally:
        await runner.stop()


async def test_items_waiting_in_a_busy_lane_are_not_requeued(env: Any) -> None:
    settings, js, engine = env
    tenant, _ = await make_tenant(engine)
    task_id, items = await make_task(engine, tenant, ["queued"], stages=["parse"])
    await _exec(
        engine,
        "UPDATE items SET dispatched_at = now(), updated_at = now() - interval '1 minute' WHERE task_id = :t",
        t=task_id,
    )
    await publish_all(js, first_jobs(items))  # its job waits in the queue (no worker running)
    done = await Janitor(settings, engine, js).run_once()
    assert done["requeued_items"] == 0
    info = await js.stream_info("JOBS")
    assert info.state.messages == 1


async def _item_done(engine: Any, task_id: Any, inp: str) -> bool:
    return any(r["input"] == inp and r["status"] == "succeeded" for r in await item_rows(engine, task_id))


async def _task_done(engine: Any, task_id: Any) -> bool:
    return await task_status(engine, task_id) == "succeeded"
