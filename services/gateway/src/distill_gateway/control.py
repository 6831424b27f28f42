"""Cancel and re-run: the state changes behind CancelTask, RetryTask and ReplayDeadLetters.

Each function runs inside the caller's transaction and returns the rows that changed;
the caller publishes jobs, events and the cancel request after the commit. Items are
always locked before their task (the order the stage runner uses), so the two never
deadlock each other.

Cancelling marks unfinished items CANCELLED at once; the runner's claim skips them when
their job arrives, and its guarded updates leave them alone when a running attempt
ends. Re-running a failed item puts it back to PENDING at the stage that failed, with
a new generation (so its job gets a new Nats-Msg-Id and a stale job is ignored) and a
fresh phase, removes its dead-letter record, and re-opens its task.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

TASK_RETURNING = """id, tenant_id, status, input_kind, stages, ai_options, export_options, priority,
          idempotency_key, labels, total, trace, created_at, updated_at, started_at, finished_at"""

_CANCEL_ITEMS = text("""
WITH o AS (
  SELECT id, status FROM items
  WHERE task_id = :task AND tenant_id = :tenant AND status IN ('pending', 'running')
  ORDER BY id FOR UPDATE
), upd AS (
  UPDATE items i SET status = 'cancelled', finished_at = now(), updated_at = now()
  FROM o WHERE i.id = o.id
  RETURNING i.id, i.task_id, i.tenant_id, i.position, i.input, i.input_kind, i.current_stage, i.title,
            i.created_at, i.updated_at, i.finished_at, o.status AS was
), ph AS (
  UPDATE phases p SET status = 'cancelled', finished_at = now()
  FROM upd WHERE p.item_id = upd.id AND p.status IN ('pending', 'running', 'retrying')
)
SELECT * FROM upd ORDER BY position
""")

_CANCEL_TASK = text(f"""
UPDATE tasks SET status = 'cancelled', finished_at = now(), updated_at = now()
WHERE id = :task AND tenant_id = :tenant AND finished_at IS NULL
RETURNING {TASK_RETURNING}
""")

_FAILED = text("""
SELECT i.id FROM items i
WHERE i.task_id = :task AND i.tenant_id = :tenant AND i.status = 'failed'
  AND (CAST(:ids AS uuid[]) IS NULL OR i.id = ANY(CAST(:ids AS uuid[])))
  AND (CAST(:stage AS text) IS NULL OR i.current_stage = CAST(:stage AS text))
  AND (CAST(:code AS text) IS NULL OR i.error->>'code' = CAST(:code AS text))
ORDER BY i.id FOR UPDATE
""")

_ITEMS_OF_TASK = text("""
SELECT id FROM items WHERE task_id = :task AND tenant_id = :tenant AND id = ANY(CAST(:ids AS uuid[]))
""")

# Failed items named by dead letters, still failed at the dead letter's stage.
_REPLAYABLE = text("""
SELECT i.id FROM items i
WHERE i.tenant_id = :tenant AND i.status = 'failed'
  AND EXISTS (SELECT 1 FROM dead_letters d
              WHERE d.id = ANY(CAST(:ids AS uuid[])) AND d.tenant_id = :tenant
                AND d.item_id = i.id AND d.stage = i.current_stage)
ORDER BY i.id FOR UPDATE
""")

_RERUN = text("""
WITH f AS (
  SELECT id, current_stage AS stage FROM items
  WHERE id = ANY(CAST(:ids AS uuid[])) AND tenant_id = :tenant AND status = 'failed'
), ph AS (
  UPDATE phases p SET status = 'pending', attempts = 0, progress = 0, error = NULL, error_code = NULL,
                      message = NULL, started_at = NULL, finished_at = NULL, duration_ms = NULL
  FROM f WHERE p.item_id = f.id AND p.stage = f.stage
), dl AS (
  DELETE FROM dead_letters d USING f WHERE d.item_id = f.id AND d.stage = f.stage
)
UPDATE items i SET status = 'pending', generation = i.generation + 1, error = NULL, finished_at = NULL,
                   dispatched_at = NULL, updated_at = now()
FROM f WHERE i.id = f.id
RETURNING i.id, i.task_id, i.tenant_id, i.current_stage, i.generation, i.position, i.input, i.input_kind,
          i.title, i.created_at, i.updated_at
""")

_REOPEN = text(f"""
UPDATE tasks SET status = 'running', finished_at = NULL, updated_at = now(), started_at = COALESCE(started_at, now())
WHERE id = ANY(CAST(:ids AS uuid[]))
RETURNING {TASK_RETURNING}
""")


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


async def cancel_task(
    conn: AsyncConnection, tenant: str, task_id: uuid.UUID
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Cancel the unfinished items and the task; (task row or None if already finished, items)."""
    items = _rows(await conn.execute(_CANCEL_ITEMS, {"task": task_id, "tenant": tenant}))
    task = (await conn.execute(_CANCEL_TASK, {"task": task_id, "tenant": tenant})).first()
    return (dict(task._mapping) if task else None), items


async def items_not_in_task(
    conn: AsyncConnection, tenant: str, task_id: uuid.UUID, item_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """Those of `item_ids` that are not items of the task."""
    found = {r[0] for r in await conn.execute(_ITEMS_OF_TASK, {"task": task_id, "tenant": tenant, "ids": item_ids})}
    return [i for i in item_ids if i not in found]


async def failed_items(
    conn: AsyncConnection,
    tenant: str,
    task_id: uuid.UUID,
    *,
    item_ids: Sequence[uuid.UUID] = (),
    stage: str | None = None,
    error_code: str | None = None,
) -> list[uuid.UUID]:
    """The task's FAILED items matching the filters (locked until the transaction ends)."""
    params = {
        "task": task_id,
        "tenant": tenant,
        "ids": list(item_ids) or None,
        "stage": stage or None,
        "code": error_code or None,
    }
    return [r[0] for r in await conn.execute(_FAILED, params)]


async def replayable_items(conn: AsyncConnection, tenant: str, dead_letter_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    if not dead_letter_ids:
        return []
    return [r[0] for r in await conn.execute(_REPLAYABLE, {"ids": list(dead_letter_ids), "tenant": tenant})]


async def rerun(
    conn: AsyncConnection, tenant: str, item_ids: Sequence[uuid.UUID]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Put failed items back at the stage that failed and re-open their tasks: (items, tasks)."""
    if not item_ids:
        return [], []
    items = _rows(await conn.execute(_RERUN, {"ids": list(item_ids), "tenant": tenant}))
    task_ids = sorted({r["task_id"] for r in items})
    tasks = _rows(await conn.execute(_REOPEN, {"ids": task_ids})) if task_ids else []
    return items, tasks
