"""The export ledger: the item's `exports` row, written at each step of a publish.

    (no row)            nothing was ever sent for this item and destination
    state 'creating'    a create call may be under way or may have landed: look before creating
    state 'created'     the page exists (`external_id`); its body may be incomplete
    state 'complete'    the page and its whole body exist, for `content_hash`

Each write commits on its own, right after the external call it records, on the
connection that holds the item's advisory lock (so a worker that lost its database
connection cannot go on writing to Notion unseen). The runner's persist() writes the
final row again in the completion transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from distill_notion.notion_blocks import encoded

_LOAD = text("""
SELECT id, external_id, url, state, target, content_hash FROM exports
WHERE item_id = :item AND destination = :dest
""")

_BEGIN = text("""
INSERT INTO exports AS e (id, tenant_id, item_id, destination, external_id, url, state, target, content_hash)
VALUES (:id, :tenant, :item, :dest, NULL, NULL, 'creating', :target, :hash)
ON CONFLICT ON CONSTRAINT uq_exports_item_destination DO UPDATE
  SET id = excluded.id, external_id = NULL, url = NULL, state = 'creating', target = excluded.target,
      content_hash = excluded.content_hash, updated_at = now()
""")

_CREATED = text("""
UPDATE exports SET external_id = :page, url = :url, state = 'created', updated_at = now()
WHERE item_id = :item AND destination = :dest
""")

_COMPLETE = text("""
UPDATE exports SET state = 'complete', updated_at = now() WHERE item_id = :item AND destination = :dest
""")

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:k)")
_UNLOCK = text("SELECT pg_advisory_unlock(:k)")


@dataclass
class Record:
    id: uuid.UUID
    external_id: str | None
    url: str | None
    state: str | None
    target: str | None
    content_hash: str | None


def content_hash(*parts: Any) -> str:
    """A digest of what a publish would send (target, properties, blocks)."""
    return hashlib.sha256(encoded(list(parts))).hexdigest()


def lock_key(item_id: str, destination: str) -> int:
    """A signed 64-bit advisory lock key for one item and destination."""
    d = hashlib.sha256(f"distill-export:{destination}:{item_id}".encode()).digest()
    return int.from_bytes(d[:8], "big", signed=True)


async def try_lock(conn: AsyncConnection, key: int) -> bool:
    got = bool((await conn.execute(_TRY_LOCK, {"k": key})).scalar())
    await conn.commit()
    return got


async def unlock(conn: AsyncConnection, key: int) -> None:
    await conn.execute(_UNLOCK, {"k": key})
    await conn.commit()


async def load(conn: AsyncConnection, item_id: str, destination: str) -> Record | None:
    row = (await conn.execute(_LOAD, {"item": uuid.UUID(item_id), "dest": destination})).first()
    await conn.commit()
    return Record(**row._mapping) if row else None


async def begin(
    conn: AsyncConnection, *, id: uuid.UUID, tenant_id: str, item_id: str, destination: str, target: str, digest: str
) -> None:
    await conn.execute(
        _BEGIN,
        {
            "id": id,
            "tenant": tenant_id,
            "item": uuid.UUID(item_id),
            "dest": destination,
            "target": target,
            "hash": digest,
        },
    )
    await conn.commit()


async def created(conn: AsyncConnection, item_id: str, destination: str, page_id: str, url: str | None) -> None:
    await conn.execute(_CREATED, {"item": uuid.UUID(item_id), "dest": destination, "page": page_id, "url": url})
    await conn.commit()


async def complete(conn: AsyncConnection, item_id: str, destination: str) -> None:
    await conn.execute(_COMPLETE, {"item": uuid.UUID(item_id), "dest": destination})
    await conn.commit()
