"""The runner's SQL on its own: which tasks have ended."""

from __future__ import annotations

from typing import Any

import pytest
from distill_core.db.session import make_engine
from distill_core.runner import store
from sqlalchemy import text

from tests.helpers import make_task, make_tenant

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def _set(engine: Any, items: list[dict[str, Any]], status: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE items SET status = :s WHERE id = ANY(:ids)"), {"s": status, "ids": [i["id"] for i in items]}
        )


async def test_ended_tasks_are_those_with_every_item_finished(engine: Any) -> None:
    tenant, _ = await make_tenant(engine)
    done, done_items = await make_task(engine, tenant, [f"d{i}" for i in range(5)])
    early, early_items = await make_task(engine, tenant, [f"e{i}" for i in range(5)])
    late, late_items = await make_task(engine, tenant, [f"l{i}" for i in range(5)])
    running, running_items = await make_task(engine, tenant, [f"r{i}" for i in range(5)])
    await _set(engine, done_items[:2], "succeeded")
    await _set(engine, done_items[2:4], "failed")
    await _set(engine, done_items[4:], "cancelled")
    await _set(engine, early_items[1:], "succeeded")  # the first item (lowest position) still pending
    await _set(engine, late_items[:-1], "succeeded")  # the last one still pending
    await _set(engine, running_items[:-1], "succeeded")
    await _set(engine, running_items[2:3], "running")
    async with engine.connect() as conn:
        ended = await store.ended_tasks(conn, [done, early, late, running])
        assert ended == [done]
        counts = await store.task_counts(conn, ended)
    assert counts[done].done and counts[done].succeeded == 2 and counts[done].failed == 2
    await _set(engine, early_items[:1] + late_items[-1:], "succeeded")
    async with engine.connect() as conn:
        assert set(await store.ended_tasks(conn, [done, early, late, running])) == {done, early, late}
        assert await store.ended_tasks(conn, []) == []
