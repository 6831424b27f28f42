"""The runner's SQL: a few set-based statements per batch, never one per item.

Every state change is guarded by the state it expects (`status = 'running' AND
current_stage = :stage`), so a cancelled item, a stale job or a second worker on the
same item changes nothing: the guard is what makes redelivery safe.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from distill_core.status import Counts

_CLAIM = text("""
WITH j AS (
  SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:gens AS int[])) AS j(id, gen)
), claimed AS (
  UPDATE items i SET status = 'running', updated_at = now()
  FROM j, tasks t
  WHERE i.id = j.id AND i.generation = j.gen AND t.id = i.task_id
    AND i.current_stage = :stage AND i.status IN ('pending', 'running')
  RETURNING i.id, i.task_id, i.tenant_id, i.input, i.input_kind, i.generation, i.position, i.title,
            i.parsed_content_id, i.ai_output_id, i.export_id, i.created_at, i.updated_at,
            t.stages, t.ai_options, t.export_options, t.priority, t.status AS task_status
), prev AS (
  SELECT item_id, status AS prev_status FROM phases WHERE stage = :stage AND item_id IN (SELECT id FROM j)
), ph AS (
  INSERT INTO phases AS p (item_id, stage, task_id, tenant_id, status, attempts, progress, started_at)
  SELECT id, :stage, task_id, tenant_id, 'running', 1, 0, now() FROM claimed
  ON CONFLICT (item_id, stage) DO UPDATE
    SET status = 'running', attempts = p.attempts + 1, finished_at = NULL,
        started_at = COALESCE(p.started_at, now())
  RETURNING item_id, attempts, started_at, error
)
SELECT claimed.*, ph.attempts, ph.started_at AS phase_started_at, ph.error AS phase_error, prev.prev_status
FROM claimed JOIN ph ON ph.item_id = claimed.id LEFT JOIN prev ON prev.item_id = claimed.id
""")

_START_TASKS = text("""
UPDATE tasks SET status = 'running', started_at = now(), updated_at = now()
WHERE id = ANY(CAST(:ids AS uuid[])) AND status = 'queued'
RETURNING id, tenant_id, status, input_kind, stages, ai_options, export_options, priority, idempotency_key,
          labels, total, created_at, updated_at, started_at, finished_at
""")

_INSPECT = text("""
SELECT i.id, i.task_id, i.tenant_id, i.status, i.current_stage, i.generation, i.input, i.input_kind, i.title,
       i.position, i.error, i.updated_at, i.finished_at, t.stages, t.priority, t.ai_options, t.export_options,
       t.finished_at AS task_finished_at, p.status AS phase_status, p.attempts, p.started_at AS phase_started_at,
       p.finished_at AS phase_finished_at, p.message AS phase_message
FROM items i JOIN tasks t ON t.id = i.task_id LEFT JOIN phases p ON p.item_id = i.id AND p.stage = :stage
WHERE i.id = ANY(CAST(:ids AS uuid[]))
""")

_TASKS = text("""
SELECT id, tenant_id, status, input_kind, stages, ai_options, export_options, priority, idempotency_key, labels,
       total, created_at, updated_at, started_at, finished_at
FROM tasks WHERE id = ANY(CAST(:ids AS uuid[]))
""")

_SUCCEED = text("""
WITH r AS (
  SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:next AS text[]), CAST(:titles AS text[]),
                       CAST(:pcids AS uuid[]), CAST(:aids AS uuid[]), CAST(:eids AS uuid[]),
                       CAST(:ms AS int[]), CAST(:notes AS text[]))
         AS r(id, next, title, pcid, aid, eid, ms, note)
), upd AS (
  UPDATE items i SET
    current_stage = COALESCE(r.next, i.current_stage),
    status = CASE WHEN r.next IS NULL THEN 'succeeded' ELSE 'pending' END,
    finished_at = CASE WHEN r.next IS NULL THEN now() ELSE NULL END,
    title = COALESCE(r.title, i.title),
    parsed_content_id = COALESCE(r.pcid, i.parsed_content_id),
    ai_output_id = COALESCE(r.aid, i.ai_output_id),
    export_id = COALESCE(r.eid, i.export_id),
    error = NULL,
    updated_at = now()
  FROM r WHERE i.id = r.id AND i.status = 'running' AND i.current_stage = :stage
  RETURNING i.id, i.task_id, i.tenant_id, i.status, i.current_stage, i.title, i.position, i.input,
            i.input_kind, i.created_at, i.updated_at, i.finished_at
), ph AS (
  UPDATE phases p SET status = 'succeeded', finished_at = now(), progress = 100, duration_ms = r.ms,
                      message = r.note, error = NULL, error_code = NULL
  FROM r WHERE p.item_id = r.id AND p.stage = :stage AND r.id IN (SELECT id FROM upd)
  RETURNING p.item_id, p.attempts, p.started_at, p.finished_at, p.message
)
SELECT upd.*, ph.attempts, ph.started_at AS phase_started_at, ph.finished_at AS phase_finished_at,
       ph.message AS phase_message
FROM upd JOIN ph ON ph.item_id = upd.id
""")

_FAIL = text("""
WITH r AS (
  SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:errs AS text[]), CAST(:codes AS text[]))
         AS r(id, err, code)
), upd AS (
  UPDATE items i SET status = 'failed', error = CAST(r.err AS jsonb), finished_at = now(), updated_at = now()
  FROM r WHERE i.id = r.id AND i.status = 'running' AND i.current_stage = :stage
  RETURNING i.id, i.task_id, i.tenant_id, i.status, i.current_stage, i.title, i.position, i.input,
            i.input_kind, i.created_at, i.updated_at, i.finished_at, i.error
), ph AS (
  UPDATE phases p SET status = 'failed', error = CAST(r.err AS jsonb), error_code = r.code, finished_at = now()
  FROM r WHERE p.item_id = r.id AND p.stage = :stage AND r.id IN (SELECT id FROM upd)
  RETURNING p.item_id, p.attempts, p.started_at, p.finished_at
)
SELECT upd.*, ph.attempts, ph.started_at AS phase_started_at, ph.finished_at AS phase_finished_at
FROM upd JOIN ph ON ph.item_id = upd.id
""")

_RETRY = text("""
WITH r AS (
  SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:errs AS text[]), CAST(:codes AS text[]),
                       CAST(:refunds AS int[])) AS r(id, err, code, refund)
)
UPDATE phases p SET status = 'retrying', error = CAST(r.err AS jsonb), error_code = r.code,
                    attempts = GREATEST(p.attempts - r.refund, 0)
FROM r, items i
WHERE p.item_id = r.id AND p.stage = :stage AND i.id = r.id AND i.status = 'running' AND i.current_stage = :stage
RETURNING p.item_id, p.attempts, p.started_at, i.task_id, i.tenant_id, i.status, i.current_stage, i.title,
          i.position, i.input, i.input_kind, i.created_at, i.updated_at
""")

_RELEASE = text("""
WITH r AS (SELECT unnest(CAST(:ids AS uuid[])) AS id), ph AS (
  UPDATE phases p SET status = 'pending', attempts = GREATEST(p.attempts - 1, 0)
  FROM r WHERE p.item_id = r.id AND p.stage = :stage
  RETURNING p.item_id
)
UPDATE items i SET status = 'pending', updated_at = now()
FROM r WHERE i.id = r.id AND i.status = 'running' AND i.current_stage = :stage
""")

_CANCELLED = text("""
UPDATE phases p SET status = 'cancelled', finished_at = now()
WHERE p.item_id = ANY(CAST(:ids AS uuid[])) AND p.stage = :stage AND p.status IN ('running', 'retrying', 'pending')
""")

_DEAD_LETTER = text("""
INSERT INTO dead_letters (id, tenant_id, task_id, item_id, stage, error, error_code, deliveries, job)
SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:tenants AS text[]), CAST(:tasks AS uuid[]),
                     CAST(:items AS uuid[]), CAST(:stages AS text[]), CAST(:errs AS jsonb[]),
                     CAST(:codes AS text[]), CAST(:deliveries AS int[]), CAST(:jobs AS bytea[]))
ON CONFLICT (id) DO NOTHING
""")

_SOLO = text("""
UPDATE phases SET solo_runs = solo_runs + 1 WHERE item_id = :id AND stage = :stage RETURNING solo_runs
""")

_PROGRESS = text("""
UPDATE phases SET progress = :progress, message = :message
WHERE item_id = :id AND stage = :stage AND status = 'running'
""")

_COUNTS = text("""
SELECT task_id,
       count(*) AS total,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'running') AS running,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM items WHERE task_id = ANY(CAST(:ids AS uuid[])) GROUP BY task_id
""")

# Tasks among :ids with no item left to finish. Items finish roughly in position order, so
# the one with the highest position still unfinished is usually the first index entry
# read: a probe of a row or two per task, where counting reads all of the task's items.
_ENDED = text("""
SELECT t.id FROM unnest(CAST(:ids AS uuid[])) AS t(id)
WHERE NOT EXISTS (
  SELECT 1 FROM (
    SELECT 1 FROM items i
    WHERE i.task_id = t.id AND i.status NOT IN ('succeeded', 'failed', 'cancelled')
    ORDER BY i.position DESC LIMIT 1
  ) open_item
)
""")

_FINISH_TASKS = text("""
UPDATE tasks t SET status = r.status, finished_at = now(), updated_at = now()
FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[])) AS r(id, status)
WHERE t.id = r.id AND t.finished_at IS NULL
RETURNING t.id, t.tenant_id, t.status, t.input_kind, t.stages, t.ai_options, t.export_options, t.priority,
          t.idempotency_key, t.labels, t.total, t.created_at, t.updated_at, t.started_at, t.finished_at
""")


def _rows(result: Any) -> list[dict[str, Any]]:
    keys = list(result.keys())
    return [dict(zip(keys, r, strict=True)) for r in result]  # a third of dict(r._mapping)'s cost


def _dumps(v: Any) -> str:
    return json.dumps(v, default=str)


async def claim(conn: AsyncConnection, stage: str, jobs: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """Mark items running at `stage` and their phase started; returns the rows claimed (with
    `task_status`, their task's status as the claim found it)."""
    if not jobs:
        return []
    ids = [uuid.UUID(i) for i, _ in jobs]
    gens = [g for _, g in jobs]
    return _rows(await conn.execute(_CLAIM, {"ids": ids, "gens": gens, "stage": stage}))


async def start_tasks(conn: AsyncConnection, task_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """QUEUED tasks among `task_ids` become RUNNING; returns the ones that changed."""
    if not task_ids:
        return []
    return _rows(await conn.execute(_START_TASKS, {"ids": list(task_ids)}))


async def inspect(conn: AsyncConnection, stage: str, item_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Current state of items a claim did not take (to tell stale, done and missing apart),
    with their phase at `stage`."""
    if not item_ids:
        return {}
    rows = _rows(await conn.execute(_INSPECT, {"ids": [uuid.UUID(i) for i in item_ids], "stage": stage}))
    return {str(r["id"]): r for r in rows}


async def tasks(conn: AsyncConnection, task_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    if not task_ids:
        return []
    return _rows(await conn.execute(_TASKS, {"ids": list(task_ids)}))


async def succeed(conn: AsyncConnection, stage: str, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """rows: id, next (stage or None), title, parsed_content_id, ai_output_id, export_id, ms, note."""
    if not rows:
        return []
    params = {
        "stage": stage,
        "ids": [uuid.UUID(r["id"]) for r in rows],
        "next": [r.get("next") for r in rows],
        "titles": [r.get("title") for r in rows],
        "pcids": [r.get("parsed_content_id") for r in rows],
        "aids": [r.get("ai_output_id") for r in rows],
        "eids": [r.get("export_id") for r in rows],
        "ms": [int(r.get("ms") or 0) for r in rows],
        "notes": [r.get("note") for r in rows],
    }
    return _rows(await conn.execute(_SUCCEED, params))


async def fail(conn: AsyncConnection, stage: str, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """rows: id, error (dict)."""
    if not rows:
        return []
    params = {
        "stage": stage,
        "ids": [uuid.UUID(r["id"]) for r in rows],
        "errs": [_dumps(r["error"]) for r in rows],
        "codes": [r["error"]["code"] for r in rows],
    }
    return _rows(await conn.execute(_FAIL, params))


async def retry(conn: AsyncConnection, stage: str, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """rows: id, error (dict), refund (1 when the wait must not use an attempt)."""
    if not rows:
        return []
    params = {
        "stage": stage,
        "ids": [uuid.UUID(r["id"]) for r in rows],
        "errs": [_dumps(r["error"]) for r in rows],
        "codes": [r["error"]["code"] for r in rows],
        "refunds": [int(r.get("refund", 0)) for r in rows],
    }
    return _rows(await conn.execute(_RETRY, params))


async def release(conn: AsyncConnection, stage: str, item_ids: Sequence[str]) -> None:
    """Give items back untouched (shutdown): the attempt they started does not count."""
    if item_ids:
        await conn.execute(_RELEASE, {"stage": stage, "ids": [uuid.UUID(i) for i in item_ids]})


async def mark_cancelled(conn: AsyncConnection, stage: str, item_ids: Sequence[str]) -> None:
    if item_ids:
        await conn.execute(_CANCELLED, {"stage": stage, "ids": [uuid.UUID(i) for i in item_ids]})


async def dead_letter(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """rows: id, tenant_id, task_id, item_id, stage, error (dict), deliveries, job (bytes)."""
    if not rows:
        return
    await conn.execute(
        _DEAD_LETTER,
        {
            "ids": [r["id"] for r in rows],
            "tenants": [r.get("tenant_id") for r in rows],
            "tasks": [_uuid_or_none(r.get("task_id")) for r in rows],
            "items": [_uuid_or_none(r.get("item_id")) for r in rows],
            "stages": [r["stage"] for r in rows],
            "errs": [_dumps(r["error"]) for r in rows],
            "codes": [r["error"]["code"] for r in rows],
            "deliveries": [int(r.get("deliveries") or 0) for r in rows],
            "jobs": [r.get("job") or b"" for r in rows],
        },
    )


async def count_solo_run(conn: AsyncConnection, stage: str, item_id: str) -> int:
    """Record that the item is about to run alone; returns how many solo runs it has had."""
    r = await conn.execute(_SOLO, {"id": uuid.UUID(item_id), "stage": stage})
    return int(r.scalar_one_or_none() or 0)


async def set_progress(conn: AsyncConnection, stage: str, item_id: str, progress: int, message: str) -> None:
    await conn.execute(_PROGRESS, {"id": uuid.UUID(item_id), "stage": stage, "progress": progress, "message": message})


async def task_counts(conn: AsyncConnection, task_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Counts]:
    if not task_ids:
        return {}
    rows = await conn.execute(_COUNTS, {"ids": list(task_ids)})
    return {
        r.task_id: Counts(
            total=r.total,
            pending=r.pending,
            running=r.running,
            succeeded=r.succeeded,
            failed=r.failed,
            cancelled=r.cancelled,
        )
        for r in rows
    }


async def ended_tasks(conn: AsyncConnection, task_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The tasks among `task_ids` whose items have all finished (cheaper than task_counts)."""
    if not task_ids:
        return []
    return [r[0] for r in await conn.execute(_ENDED, {"ids": list(task_ids)})]


async def finish_tasks(conn: AsyncConnection, statuses: dict[uuid.UUID, str]) -> list[dict[str, Any]]:
    """Set the terminal status of tasks not yet finished; returns those this call finished."""
    if not statuses:
        return []
    ids = list(statuses)
    return _rows(await conn.execute(_FINISH_TASKS, {"ids": ids, "statuses": [statuses[i] for i in ids]}))


def _uuid_or_none(v: Any) -> uuid.UUID | None:
    if not v:
        return None
    try:
        return uuid.UUID(str(v))
    except ValueError:
        return None


class ResultRows:
    """How a stage writes its batch's result rows (`StageResult.row`) in persist(): one
    executemany upsert, compiled once and cached by SQLAlchemy, where a multi-VALUES insert
    would be compiled again for every batch size.

    `columns`: what a row holds; `update`: what a row already there takes from the new one
    (default: every column but the key); `conflict`: `on_conflict_do_update`'s target,
    `index_elements=[...]` or `constraint=...` (default: the primary key `id`).
    """

    def __init__(
        self,
        model: Any,
        columns: Sequence[str],
        *,
        update: Sequence[str] | None = None,
        conflict: dict[str, Any] | None = None,
    ) -> None:
        from sqlalchemy.dialects.postgresql import insert

        self.columns = tuple(columns)
        conflict = conflict or {"index_elements": ["id"]}
        keys = set(conflict.get("index_elements") or ())
        ins = insert(model)
        changed = update if update is not None else [c for c in self.columns if c not in keys]
        self.statement = ins.on_conflict_do_update(**conflict, set_={c: ins.excluded[c] for c in changed})

    async def write(self, conn: AsyncConnection, done: Sequence[tuple[Any, Any]]) -> None:
        """Upsert the rows of `done` (the (job, StageResult) pairs persist() gets)."""
        rows = [{c: r.row.get(c) for c in self.columns} for _, r in done]
        if rows:
            await conn.execute(self.statement, rows)
