"""Small helpers for reading rows as plain dicts on a Core connection."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection


async def get_by_id(conn: AsyncConnection, model: Any, id_: Any) -> dict[str, Any] | None:
    """The row of `model` with primary key `id_`, as a dict (None when absent)."""
    table = model.__table__
    r = (await conn.execute(select(*table.c).where(table.c.id == id_))).first()
    return dict(r._mapping) if r else None


async def get_by_ids(conn: AsyncConnection, model: Any, ids: Iterable[Any]) -> dict[Any, dict[str, Any]]:
    """The rows of `model` with these primary keys, by id (absent ones left out), in one query."""
    wanted = list(dict.fromkeys(i for i in ids if i))
    if not wanted:
        return {}
    table = model.__table__
    ids_param = bindparam("ids", wanted, type_=ARRAY(table.c.id.type))  # one array: `id = ANY($1)`
    result = await conn.execute(select(*table.c).where(table.c.id == any_(ids_param)))
    keys = list(result.keys())
    return {r.id: dict(zip(keys, r, strict=True)) for r in result}
