"""The gateway's queries. Every one is filtered by the caller's tenant."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from distill_core.db.models import AiOutput, Export, Item, ParsedContent, Phase, Task
from distill_core.runner import store
from distill_core.status import Counts
from sqlalchemy import TextClause, func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from distill_gateway.limits import TAKE_CTE

TASK_COLS = [c for c in Task.__table__.c]
ITEM_COLS = [c for c in Item.__table__.c]


def _row(r: Any) -> dict[str, Any]:
    return dict(r._mapping)


_TASK_RETURNING = ", ".join(c.name for c in TASK_COLS)
_ITEM_FIELDS = (
    ("id", "uuid"),
    ("position", "int"),
    ("input_kind", "text"),
    ("input", "text"),
    ("status", "text"),
    ("current_stage", "text"),
    ("generation", "int"),
    ("parsed_content_id", "uuid"),
    ("ai_output_id", "uuid"),
)


# The task and all its items in one statement (atomic on its own, so an autocommit
# connection needs no BEGIN/COMMIT round trips), the items from arrays: one row source
# instead of one INSERT per item. With `take` (limits.TAKE_CTE) first, the task is stored only
# when the rate limit accepts the call.
def _insert_task_sql(take: str | None) -> TextClause:
    columns = "id, tenant_id, status, input_kind, stages, ai_options, export_options, priority, idempotency_key, labels"
    values = (
        ":id, :tenant_id, :status, :input_kind, CAST(:stages AS text[]), CAST(:ai_options AS jsonb), "
        "CAST(:export_options AS jsonb), :priority, :idempotency_key, CAST(:labels AS jsonb), :total, "
        "CAST(:trace AS jsonb)"
    )
    source = f"SELECT {values} FROM take" if take else f"VALUES ({values})"
    return text(f"""
WITH {take + ", " if take else ""}t AS (
  INSERT INTO tasks ({columns}, total, trace)
  {source}
  RETURNING {_TASK_RETURNING}
), i AS (
  INSERT INTO items (task_id, tenant_id, {", ".join(f for f, _ in _ITEM_FIELDS)})
  SELECT t.id, t.tenant_id, u.*
  FROM t, unnest({", ".join(f"CAST(:item_{f} AS {ty}[])" for f, ty in _ITEM_FIELDS)})
       AS u({", ".join(f for f, _ in _ITEM_FIELDS)})
)
SELECT * FROM t
""")


_INSERT_TASK = _insert_task_sql(None)
_INSERT_TASK_TAKING = _insert_task_sql(TAKE_CTE)


async def insert_task(
    conn: AsyncConnection,
    task: dict[str, Any],
    items: Sequence[dict[str, Any]],
    take: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Store the task and its items (of that task and tenant) in one statement; returns the task's row.

    With `take` (CreateTaskLimiter.params), only if the rate limit accepts the call: None when not.
    """
    params = {
        **task,
        **{k: json.dumps(task.get(k) or {}) for k in ("ai_options", "export_options", "labels", "trace")},
        **{f"item_{f}": [i.get(f) for i in items] for f, _ in _ITEM_FIELDS},
        **(take or {}),
    }
    row = (await conn.execute(_INSERT_TASK_TAKING if take else _INSERT_TASK, params)).first()
    return _row(row) if row is not None else None


async def find_by_idempotency_key(conn: AsyncConnection, tenant_id: str, key: str) -> dict[str, Any] | None:
    r = (await conn.execute(select(*TASK_COLS).where(Task.tenant_id == tenant_id, Task.idempotency_key == key))).first()
    return _row(r) if r else None


async def get_task(conn: AsyncConnection, tenant_id: str, task_id: uuid.UUID) -> dict[str, Any] | None:
    r = (await conn.execute(select(*TASK_COLS).where(Task.id == task_id, Task.tenant_id == tenant_id))).first()
    return _row(r) if r else None


async def counts(conn: AsyncConnection, task_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Counts]:
    return await store.task_counts(conn, task_ids)


async def items_of(
    conn: AsyncConnection,
    tenant_id: str,
    task_id: uuid.UUID,
    *,
    statuses: Sequence[str] = (),
    offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    q = select(*ITEM_COLS).where(Item.task_id == task_id, Item.tenant_id == tenant_id)
    if statuses:
        q = q.where(Item.status.in_(list(statuses)))
    q = q.order_by(Item.position, Item.id).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    return [_row(r) for r in (await conn.execute(q)).all()]


async def phases_of(conn: AsyncConnection, item_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    if not item_ids:
        return {}
    rows = (await conn.execute(select(*Phase.__table__.c).where(Phase.item_id.in_(list(item_ids))))).all()
    out: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r.item_id].append(_row(r))
    return out


async def results_of(
    conn: AsyncConnection, items: Sequence[dict[str, Any]], *, with_text: bool
) -> tuple[dict[uuid.UUID, dict[str, Any]], dict[uuid.UUID, dict[str, Any]], dict[uuid.UUID, dict[str, Any]]]:
    """Parsed content, AI output and export rows of the items, by their ids."""
    pc_ids = [i["parsed_content_id"] for i in items if i.get("parsed_content_id")]
    ai_ids = [i["ai_output_id"] for i in items if i.get("ai_output_id")]
    ex_ids = [i["export_id"] for i in items if i.get("export_id")]
    parsed: dict[uuid.UUID, dict[str, Any]] = {}
    ai: dict[uuid.UUID, dict[str, Any]] = {}
    exports: dict[uuid.UUID, dict[str, Any]] = {}
    if pc_ids:
        cols = [c for c in ParsedContent.__table__.c if with_text or c.name not in ("text", "structured")]
        if not with_text:
            cols.append(func.left(ParsedContent.text, 600).label("text"))
        for r in (await conn.execute(select(*cols).where(ParsedContent.id.in_(pc_ids)))).all():
            parsed[r.id] = _row(r)
    if ai_ids:
        for r in (await conn.execute(select(*AiOutput.__table__.c).where(AiOutput.id.in_(ai_ids)))).all():
            ai[r.id] = _row(r)
    if ex_ids:
        for r in (await conn.execute(select(*Export.__table__.c).where(Export.id.in_(ex_ids)))).all():
            exports[r.id] = _row(r)
    return parsed, ai, exports


async def get_item(conn: AsyncConnection, tenant_id: str, item_id: uuid.UUID) -> dict[str, Any] | None:
    r = (await conn.execute(select(*ITEM_COLS).where(Item.id == item_id, Item.tenant_id == tenant_id))).first()
    return _row(r) if r else None


async def mark_dispatched(conn: AsyncConnection, item_ids: Sequence[uuid.UUID]) -> None:
    if item_ids:
        await conn.execute(
            text(
                "UPDATE items SET dispatched_at = now() WHERE id = ANY(CAST(:ids AS uuid[])) AND dispatched_at IS NULL"
            ),
            {"ids": list(item_ids)},
        )


async def content_owned(conn: AsyncConnection, tenant_id: str, table: Any, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """The ids among `ids` that exist in `table` and belong to the tenant."""
    rows = (
        await conn.execute(select(table.c.id).where(table.c.id.in_(list(ids)), table.c.tenant_id == tenant_id))
    ).all()
    return {r[0] for r in rows}


# --- listing (keyset pages) -------------------------------------------------------------


def _task_filter(tenant_id: str, statuses: Sequence[str], labels: dict[str, str]) -> list[Any]:
    where: list[Any] = [Task.tenant_id == tenant_id]
    if statuses:
        where.append(Task.status.in_(list(statuses)))
    if labels:
        where.append(Task.labels.contains(labels))
    return where


async def list_tasks(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    statuses: Sequence[str],
    labels: dict[str, str],
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of tasks, newest first (created_at, id descending), and how many match in all."""
    where = _task_filter(tenant_id, statuses, labels)
    total = (await conn.execute(select(func.count()).select_from(Task).where(*where))).scalar_one()
    q = select(*TASK_COLS).where(*where)
    if after is not None:
        q = q.where(tuple_(Task.created_at, Task.id) < tuple_(literal(after[0]), literal(after[1])))
    q = q.order_by(Task.created_at.desc(), Task.id.desc()).limit(limit)
    return [_row(r) for r in (await conn.execute(q)).all()], int(total)


async def list_items(
    conn: AsyncConnection,
    tenant_id: str,
    task_id: uuid.UUID,
    *,
    statuses: Sequence[str],
    after: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of a task's items in task order (position), and how many match in all."""
    where: list[Any] = [Item.task_id == task_id, Item.tenant_id == tenant_id]
    if statuses:
        where.append(Item.status.in_(list(statuses)))
    total = (await conn.execute(select(func.count()).select_from(Item).where(*where))).scalar_one()
    q = select(*ITEM_COLS).where(*where)
    if after is not None:
        q = q.where(Item.position > after)
    q = q.order_by(Item.position, Item.id).limit(limit)
    return [_row(r) for r in (await conn.execute(q)).all()], int(total)


async def parsed_of_ai_outputs(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID | None]:
    """AI output id -> the parsed content it was made from."""
    rows = await conn.execute(select(AiOutput.id, AiOutput.parsed_content_id).where(AiOutput.id.in_(list(ids))))
    return {r.id: r.parsed_content_id for r in rows}


async def task_labels(conn: AsyncConnection, tenant_id: str, task_id: uuid.UUID) -> dict[str, str] | None:
    r = (await conn.execute(select(Task.labels).where(Task.id == task_id, Task.tenant_id == tenant_id))).first()
    return dict(r[0] or {}) if r else None
