"""The report worker's queries: claim a report, read its task's results, record the outcome.

Every statement that changes a report is guarded by the status it expects, so a
redelivered job, a second worker or a task deleted meanwhile changes nothing twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from distill_core.runner import store
from distill_core.status import Counts
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_CLAIM = text("""
UPDATE reports SET status = 'running', attempts = attempts + 1, updated_at = now(),
  started_at = coalesce(started_at, now())
WHERE id = :id AND status IN ('queued', 'running')
RETURNING id, tenant_id, task_id, format, attempts
""")

_ITEMS = text("""
SELECT i.id, i.position, i.status, i.input, i.input_kind, i.title, i.error, i.finished_at,
  p.url, p.final_url, p.title AS parsed_title, p.site_name, p.byline, p.published_at, p.language,
  p.word_count, p.recipe AS parsed_recipe, p.no_content, left(p.text, 600) AS excerpt,
  a.summary, a.keywords, a.insights, a.recipe AS ai_recipe, a.no_content AS ai_no_content,
  e.destination, e.url AS export_url
FROM items i
LEFT JOIN ai_outputs a ON a.id = i.ai_output_id
LEFT JOIN parsed_contents p ON p.id = coalesce(i.parsed_content_id, a.parsed_content_id)
LEFT JOIN exports e ON e.id = i.export_id
WHERE i.task_id = :task AND i.tenant_id = :tenant
ORDER BY i.position, i.id
""")

_SUCCEED = text("""
UPDATE reports SET status = 'succeeded', content = :content, size_bytes = :size, sha256 = :sha256,
  item_count = :items, task_status = :task_status, error = NULL, finished_at = now(), updated_at = now()
WHERE id = :id AND status = 'running'
""")

_FAIL = text("""
UPDATE reports SET status = 'failed', error = CAST(:error AS jsonb), finished_at = now(), updated_at = now()
WHERE id = :id AND status IN ('queued', 'running')
""")

_RETRY = text("""
UPDATE reports SET status = 'queued', error = CAST(:error AS jsonb), updated_at = now()
WHERE id = :id AND status = 'running'
""")


async def claim(conn: AsyncConnection, report_id: uuid.UUID) -> dict[str, Any] | None:
    """Start an attempt (attempts + 1); None when the report is gone (with its task) or already finished."""
    r = (await conn.execute(_CLAIM, {"id": report_id})).first()
    return dict(r._mapping) if r else None


async def load(conn: AsyncConnection, tenant_id: str, task_id: uuid.UUID) -> tuple[dict[str, Any], Counts, list[Any]]:
    """The task row, its counts and its items with their results (in task order); LookupError when gone."""
    q = text("SELECT * FROM tasks WHERE id = :id AND tenant_id = :t")
    r = (await conn.execute(q, {"id": task_id, "t": tenant_id})).first()
    if r is None:
        raise LookupError(f"task {task_id} no longer exists")
    counts = (await store.task_counts(conn, [task_id])).get(task_id, Counts())
    items = [dict(row._mapping) for row in await conn.execute(_ITEMS, {"task": task_id, "tenant": tenant_id})]
    return dict(r._mapping), counts, items


async def succeed(
    conn: AsyncConnection, report_id: uuid.UUID, content: bytes, sha256: str, items: int, task_status: str
) -> bool:
    """Store the content; False when the report was deleted (with its task) meanwhile."""
    params = {"id": report_id, "content": content, "size": len(content), "sha256": sha256, "items": items}
    result = await conn.execute(_SUCCEED, {**params, "task_status": task_status})
    return bool(result.rowcount)


async def fail(conn: AsyncConnection, report_id: uuid.UUID, error_json: str) -> None:
    await conn.execute(_FAIL, {"id": report_id, "error": error_json})


async def requeue(conn: AsyncConnection, report_id: uuid.UUID, error_json: str) -> None:
    """Back to queued with the error of the attempt that failed (the job comes back after its delay)."""
    await conn.execute(_RETRY, {"id": report_id, "error": error_json})
