"""Small helpers for reading rows as plain dicts on a Core connection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection


async def get_by_id(conn: AsyncConnection, model: Any, id_: Any) -> dict[str, Any] | None:
    """The row of `model` with primary key `id_`, as a dict (None when absent)."""
    table = model.__table__
    r = (await conn.execute(select(*table.c).where(table.c.id == id_))).first()
    return dict(r._mapping) if r else None
