"""Driving the real AI stage (runner, NATS JetStream, PostgreSQL) on parsed content made by the test."""

from __future__ import annotations

import uuid
from typing import Any

from distill_ai.settings import AiSettings
from distill_ai.stage import AiStage
from distill_core.db.models import ParsedContent
from distill_core.events import publish_all
from distill_core.runner import StageRunner
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert

from tests.helpers import first_jobs, make_task, wait_for


async def submit_parsed(
    engine: Any, js: Any, tenant: str, pages: list[dict[str, Any]], ai_options: dict[str, Any] | None = None
) -> tuple[uuid.UUID, list[dict[str, Any]]]:
    """Store each page as parsed content and run a task of stage ai over them; returns (task id, items)."""
    pcids = [uuid.uuid4() for _ in pages]
    task_id, items = await make_task(
        engine, tenant, [str(p) for p in pcids], stages=["ai"], kind="parsed_content", ai_options=ai_options
    )
    rows = [
        {
            "id": pcid,
            "tenant_id": tenant,
            "item_id": item["id"],
            "url": page.get("url", f"https://example.test/{n}"),
            "title": page.get("title"),
            "text": page.get("text", ""),
            "description": page.get("description"),
            "language": page.get("language", "en"),
            "recipe": page.get("recipe"),
            "word_count": len(page.get("text", "").split()),
            "structured": {},
            "no_content": not page.get("text", "").strip(),
        }
        for n, (pcid, item, page) in enumerate(zip(pcids, items, pages, strict=True))
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(ParsedContent).values(rows))
        for pcid, item in zip(pcids, items, strict=True):
            await conn.execute(
                text("UPDATE items SET parsed_content_id = :p WHERE id = :i"), {"p": pcid, "i": item["id"]}
            )
    await publish_all(js, first_jobs(items))
    return task_id, items


async def run_ai(settings: AiSettings) -> StageRunner:
    runner = StageRunner(AiStage(settings), settings)
    await runner.start()
    return runner


async def finished(engine: Any, task_id: uuid.UUID, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Once the task is done: one row per item with its status, error, ai phase and output."""

    async def done() -> bool:
        async with engine.connect() as conn:
            r = await conn.execute(text("SELECT finished_at FROM tasks WHERE id = :id"), {"id": task_id})
            return r.scalar_one() is not None

    await wait_for(done, timeout=timeout, what="the AI task to finish")
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT i.id, i.status, i.error, p.attempts, p.error_code, p.duration_ms, p.message, "
                "a.summary, a.keywords, a.insights, a.recipe, a.provider, a.model, a.usage, a.no_content "
                "FROM items i LEFT JOIN phases p ON p.item_id = i.id AND p.stage = 'ai' "
                "LEFT JOIN ai_outputs a ON a.id = i.ai_output_id WHERE i.task_id = :id ORDER BY i.position"
            ),
            {"id": task_id},
        )
        return [dict(r._mapping) for r in rows]
