"""Graceful shutdown of a stage: stop fetching, finish or give back in-flight work."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from distill_core.events import publish_all
from distill_core.runner import BaseStage, JobContext, StageResult, StageRunner
from sqlalchemy import text

from tests.helpers import first_jobs, item_rows, make_task, make_tenant, task_status, wait_for
from tests.integration.test_runner import env  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


class Slow(BaseStage):
    name = "parse"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = asyncio.Event()

    async def handle(self, ctx: JobContext) -> StageResult:
        self.started.set()
        await asyncio.sleep(self.seconds)
        return StageResult(title="slow")


async def test_stop_lets_short_work_finish(env: Any) -> None:  # noqa: F811
    settings, js, engine = env
    tenant, _ = await make_tenant(engine)
    task_id, items = await make_task(engine, tenant, ["a"], stages=["parse"])
    stage = Slow(0.5)
    runner = StageRunner(stage, settings)
    await runner.start()
    await publish_all(js, first_jobs(items))
    await asyncio.wait_for(stage.started.wait(), 10)
    await runner.stop(grace=5)
    assert await task_status(engine, task_id) == "succeeded"


async def test_stop_gives_back_long_work_without_using_an_attempt(env: Any) -> None:  # noqa: F811
    settings, js, engine = env
    tenant, _ = await make_tenant(engine)
    task_id, items = await make_task(engine, tenant, ["a"], stages=["parse"])
    stage = Slow(60)
    runner = StageRunner(stage, settings)
    await runner.start()
    await publish_all(js, first_jobs(items))
    await asyncio.wait_for(stage.started.wait(), 10)
    await runner.stop(grace=0.2)
    row = (await item_rows(engine, task_id))[0]
    assert row["status"] == "pending"
    async with engine.connect() as conn:
        phase = (
            await conn.execute(text("SELECT status, attempts FROM phases WHERE item_id = :i"), {"i": row["id"]})
        ).one()
    assert tuple(phase) == ("pending", 0)
    # The job was nak'd, not lost: a new worker finishes it at once.
    quick = Slow(0.01)
    again = StageRunner(quick, settings)
    await again.start()
    try:
        await wait_for(lambda: _succeeded(engine, task_id), timeout=15, what="the given-back job")
    finally:
        await again.stop()


async def _succeeded(engine: Any, task_id: Any) -> bool:
    return await task_status(engine, task_id) == "succeeded"
