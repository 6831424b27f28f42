"""JetStream's MAX_DELIVERIES advisory becomes a dead letter (the backstop for poison jobs)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from distill_core import nats as dnats
from distill_core.db.session import make_engine
from distill_core.events import publish_all
from distill_core.runner import BaseStage, JobContext, StageResult, StageRunner
from distill_core.settings import Settings
from sqlalchemy import text

from tests.helpers import first_jobs, item_rows, make_task, make_tenant, wait_for

pytestmark = pytest.mark.integration


class Never(BaseStage):
    name = "parse"

    async def handle(self, ctx: JobContext) -> StageResult:
        raise AssertionError("the runner must not run a job JetStream gave up on")


async def test_max_deliveries_advisory_dead_letters_the_job(
    nats_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISTILL_PARSER_MAX_ATTEMPTS", "1")  # max_deliver = 1 * 3 + 3 = 6
    monkeypatch.setenv("DISTILL_PARSER_ACK_WAIT", "0.5")
    settings = Settings(nats_url=nats_url, database_url=database_url)
    nc = await dnats.connect(settings, "test-advisory")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, settings)
    await js.purge_stream("JOBS")
    engine = make_engine(database_url, pool_size=2)
    runner = None
    try:
        tenant, _ = await make_tenant(engine)
        task_id, items = await make_task(engine, tenant, ["stuck"], stages=["parse"], priority="low")
        await publish_all(js, first_jobs(items))
        # A rogue consumer takes the job and never acks it, until JetStream gives up
        # (6 deliveries). No runner is listening when the advisory fires: it waits in the
        # ADVISORIES stream.
        rogue = await js.pull_subscribe_bind(durable="parse-low", stream="JOBS")
        for _ in range(6):
            await rogue.fetch(1, timeout=5)
        with pytest.raises(TimeoutError):  # the server notices the limit on the next pull
            await rogue.fetch(1, timeout=1.5)
        await rogue.unsubscribe()
        await asyncio.sleep(0.3)
        assert (await js.stream_info("ADVISORIES")).state.messages >= 1
        runner = StageRunner(Never(), settings)
        await runner.start()
        await wait_for(lambda: _failed(engine, task_id), timeout=30, what="the item to fail")
        row = (await item_rows(engine, task_id))[0]
        assert row["error"]["code"] == "POISON_MESSAGE"
        async with engine.connect() as conn:
            codes = [
                r[0]
                for r in await conn.execute(
                    text("SELECT error_code FROM dead_letters WHERE task_id = :t"), {"t": task_id}
                )
            ]
        assert codes == ["POISON_MESSAGE"]
        await asyncio.sleep(0.5)
        assert (await js.stream_info("JOBS")).state.messages == 0
    finally:
        if runner:
            await runner.stop()
        await engine.dispose()
        await nc.close()


async def _failed(engine: Any, task_id: Any) -> bool:
    return (await item_rows(engine, task_id))[0]["status"] == "failed"
