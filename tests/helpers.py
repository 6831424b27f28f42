"""Helpers for tests that drive the real runner against real NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from distill_core import apikeys
from distill_core.runner.events import job_msg
from sqlalchemy import text


async def make_tenant(engine: Any, name: str | None = None) -> tuple[str, str]:
    """(tenant id, api key) of a fresh tenant."""
    async with engine.begin() as conn:
        key, _ = await apikeys.create_key(conn, name or f"t-{uuid.uuid4().hex[:8]}")
        caller = await apikeys.verify(conn, key)
    assert caller is not None
    return caller.tenant_id, key


async def make_task(
    engine: Any,
    tenant: str,
    inputs: list[str],
    *,
    stages: list[str] | None = None,
    priority: str = "normal",
    kind: str = "url",
    ai_options: dict | None = None,
    export_options: dict | None = None,
) -> tuple[uuid.UUID, list[dict[str, Any]]]:
    """Insert a task and its items the way the gateway does; returns (task id, item rows)."""
    stages = stages or ["parse", "ai", "notion"]
    task_id = uuid.uuid4()
    items = [
        {
            "id": uuid.uuid4(),
            "task_id": task_id,
            "tenant_id": tenant,
            "position": n,
            "input_kind": kind,
            "input": v,
            "status": "pending",
            "current_stage": stages[0],
            "generation": 0,
            "priority": priority,
        }
        for n, v in enumerate(inputs)
    ]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO tasks (id, tenant_id, status, input_kind, stages, ai_options, export_options, "
                "priority, labels, total, trace) VALUES (:id, :t, 'queued', :k, :s, CAST(:ai AS jsonb), "
                "CAST(:ex AS jsonb), :p, '{}', :n, '{}')"
            ),
            {
                "id": task_id,
                "t": tenant,
                "k": kind,
                "s": stages,
                "p": priority,
                "n": len(items),
                "ai": __import__("json").dumps(ai_options or {}),
                "ex": __import__("json").dumps(export_options or {}),
            },
        )
        await conn.execute(
            text(
                "INSERT INTO items (id, task_id, tenant_id, position, input_kind, input, status, current_stage, "
                "generation) VALUES (:id, :task_id, :tenant_id, :position, :input_kind, :input, :status, "
                ":current_stage, :generation)"
            ),
            [{k: v for k, v in i.items() if k != "priority"} for i in items],
        )
    return task_id, items


def first_jobs(items: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    return [job_msg(i, i["current_stage"]) for i in items]


async def wait_for(cond: Callable[[], Awaitable[bool]], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


async def task_status(engine: Any, task_id: uuid.UUID) -> str:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT status FROM tasks WHERE id = :id"), {"id": task_id})).scalar_one()


async def item_rows(engine: Any, task_id: uuid.UUID) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM items WHERE task_id = :id ORDER BY position"), {"id": task_id})
        return [dict(r._mapping) for r in rows]
