"""Dead-letter records (table `dead_letters`): listing, selecting and deleting, per tenant."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from distill.v1 import admin_pb2
from distill_core import convert
from distill_core.subjects import STAGE_ENUM
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_WHERE = """d.tenant_id = :tenant
  AND (CAST(:stage AS text) IS NULL OR d.stage = CAST(:stage AS text))
  AND (CAST(:task AS uuid) IS NULL OR d.task_id = CAST(:task AS uuid))
  AND (CAST(:code AS text) IS NULL OR d.error_code = CAST(:code AS text))"""

_PAGE = text(f"""
SELECT d.id, d.stage, d.task_id, d.item_id, d.error, d.error_code, d.deliveries, d.created_at, i.input
FROM dead_letters d LEFT JOIN items i ON i.id = d.item_id
WHERE {_WHERE}
  AND (CAST(:after_at AS timestamptz) IS NULL
       OR (d.created_at, d.id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid)))
ORDER BY d.created_at DESC, d.id DESC
LIMIT :limit
""")

_COUNT = text(f"SELECT count(*) FROM dead_letters d WHERE {_WHERE}")

_SELECT = text(f"SELECT d.id FROM dead_letters d WHERE {_WHERE} ORDER BY d.created_at, d.id")

_EXISTING = text("SELECT id FROM dead_letters WHERE tenant_id = :tenant AND id = ANY(CAST(:ids AS uuid[]))")

_DELETE = text("DELETE FROM dead_letters WHERE tenant_id = :tenant AND id = ANY(CAST(:ids AS uuid[]))")

_BY_STAGE = text("SELECT stage, count(*) AS n FROM dead_letters GROUP BY stage")


def _filters(tenant: str, stage: str | None, task_id: uuid.UUID | None, code: str | None) -> dict[str, Any]:
    return {"tenant": tenant, "stage": stage, "task": task_id, "code": code}


async def page(
    conn: AsyncConnection,
    tenant: str,
    *,
    stage: str | None,
    task_id: uuid.UUID | None,
    code: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """Newest first, and how many match in all."""
    f = _filters(tenant, stage, task_id, code)
    total = (await conn.execute(_COUNT, f)).scalar_one()
    params = {**f, "after_at": after[0] if after else None, "after_id": after[1] if after else None, "limit": limit}
    rows = [dict(r._mapping) for r in await conn.execute(_PAGE, params)]
    return rows, int(total)


async def select(
    conn: AsyncConnection,
    tenant: str,
    *,
    ids: Sequence[uuid.UUID],
    stage: str | None,
    task_id: uuid.UUID | None,
) -> list[uuid.UUID]:
    """The records named by `ids` (all must exist), or with no ids every one matching the filters."""
    if ids:
        return list(ids)
    return [r[0] for r in await conn.execute(_SELECT, _filters(tenant, stage, task_id, None))]


async def missing(conn: AsyncConnection, tenant: str, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    found = {r[0] for r in await conn.execute(_EXISTING, {"tenant": tenant, "ids": list(ids)})}
    return [i for i in ids if i not in found]


async def delete(conn: AsyncConnection, tenant: str, ids: Sequence[uuid.UUID]) -> int:
    if not ids:
        return 0
    return int((await conn.execute(_DELETE, {"tenant": tenant, "ids": list(ids)})).rowcount or 0)


async def count_by_stage(conn: AsyncConnection) -> dict[str, int]:
    """Dead letters per stage, all tenants (queue statistics)."""
    return {r.stage: int(r.n) for r in await conn.execute(_BY_STAGE)}


def to_proto(r: Mapping[str, Any]) -> admin_pb2.DeadLetter:
    return admin_pb2.DeadLetter(
        id=str(r["id"]),
        stage=STAGE_ENUM.get(r["stage"], 0),  # type: ignore[arg-type]
        task_id=str(r["task_id"] or ""),
        item_id=str(r["item_id"] or ""),
        error=convert.error_to_proto({**(r.get("error") or {}), "code": r["error_code"]}),
        deliveries=int(r.get("deliveries") or 0),
        create_time=convert.ts(r["created_at"]),
        input=r.get("input") or "",
    )
