"""The deliveries table as a durable work queue (PostgreSQL, safe with several notifiers).

A row is one notification to one destination, unique per (destination, event id), so an
event read twice is recorded once. `pending` rows are due at `next_attempt_at`. Claiming
a row bumps its attempts and moves `next_attempt_at` one lease ahead: a notifier that
dies mid-send leaves the row to be taken again when the lease runs out (at least once).
Claims take at most `per_destination` rows of one destination, so a slow or dead
endpoint holds a few slots, never the queue.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from distill_core.db.models import Delivery
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken for one attempt."""

    id: uuid.UUID
    tenant_id: str
    kind: str
    destination_id: uuid.UUID
    event_id: str
    event_type: str
    body: str
    attempts: int
    created_at: datetime


_CANDIDATES = text(
    """
    WITH dests AS (
        SELECT DISTINCT destination_id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now()
    ), busy AS (
        SELECT * FROM unnest(CAST(:busy_ids AS uuid[]), CAST(:busy_n AS int[])) AS b(dest, n)
    ), firsts AS (
        SELECT d.id, d.next_attempt_at,
               row_number() OVER (PARTITION BY dests.destination_id ORDER BY d.next_attempt_at) AS rn,
               coalesce(busy.n, 0) AS busy_n
        FROM dests
        LEFT JOIN busy ON busy.dest = dests.destination_id
        CROSS JOIN LATERAL (
            SELECT id, next_attempt_at FROM deliveries
            WHERE destination_id = dests.destination_id AND status = 'pending' AND next_attempt_at <= now()
            ORDER BY next_attempt_at
            LIMIT :per_dest
        ) d
    )
    SELECT id FROM firsts WHERE rn <= :per_dest - busy_n ORDER BY next_attempt_at LIMIT :limit
    """
)

_CLAIM = text(
    """
    UPDATE deliveries SET attempts = attempts + 1, updated_at = now(),
           next_attempt_at = now() + make_interval(secs => :lease)
    WHERE id IN (
        SELECT id FROM deliveries
        WHERE id = ANY(:ids) AND status = 'pending' AND next_attempt_at <= now()
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, tenant_id, kind, destination_id, event_id, event_type, body, attempts, created_at
    """
)


async def claim(
    conn: AsyncConnection, limit: int, per_destination: int, busy: Mapping[uuid.UUID, int], lease: float
) -> list[Claimed]:
    """Take up to `limit` due deliveries (at most `per_destination` per destination, counting `busy`)."""
    if limit <= 0:
        return []
    ids = (
        await conn.execute(
            _CANDIDATES,
            {
                "busy_ids": list(busy),
                "busy_n": list(busy.values()),
                "per_dest": per_destination,
                "limit": limit,
            },
        )
    ).scalars()
    ids = list(ids)
    if not ids:
        return []
    rows = await conn.execute(_CLAIM, {"ids": ids, "lease": lease})
    return [Claimed(**r._mapping) for r in rows]


async def seconds_to_next(conn: AsyncConnection) -> float | None:
    """Seconds until the next pending delivery is due (0 when one is due now; None when none is pending)."""
    v = (
        await conn.execute(
            text("SELECT extract(epoch FROM min(next_attempt_at) - now()) FROM deliveries WHERE status = 'pending'")
        )
    ).scalar()
    return None if v is None else max(0.0, float(v))


async def record(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert new deliveries; one already recorded for the same destination and event is left alone."""
    if not rows:
        return 0
    stmt = insert(Delivery).values(list(rows)).on_conflict_do_nothing(constraint="uq_deliveries_destination_event")
    return (await conn.execute(stmt)).rowcount or 0


async def delivered(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> None:
    await conn.execute(
        text(
            "UPDATE deliveries SET status = 'delivered', delivered_at = now(), updated_at = now(), last_error = NULL "
            "WHERE id = ANY(:ids)"
        ),
        {"ids": list(ids)},
    )


async def retry_later(conn: AsyncConnection, id: uuid.UUID, delay: float, error: str, *, refund: bool) -> None:
    """Due again after `delay` seconds; `refund` gives the attempt back (a Retry-After wait)."""
    await conn.execute(
        text(
            "UPDATE deliveries SET next_attempt_at = now() + make_interval(secs => :delay), last_error = :err, "
            "attempts = attempts - :refund, updated_at = now() WHERE id = :id AND status = 'pending'"
        ),
        {"id": id, "delay": delay, "err": error, "refund": 1 if refund else 0},
    )


async def give_up(conn: AsyncConnection, id: uuid.UUID, error: str) -> None:
    await conn.execute(
        text("UPDATE deliveries SET status = 'failed', last_error = :err, updated_at = now() WHERE id = :id"),
        {"id": id, "err": error},
    )


async def hold_destination(conn: AsyncConnection, destination_id: uuid.UUID, delay: float) -> None:
    """Nothing more to this destination for `delay` seconds (it answered 429 with Retry-After)."""
    await conn.execute(
        text(
            "UPDATE deliveries SET next_attempt_at = greatest(next_attempt_at, now() + make_interval(secs => :d)) "
            "WHERE destination_id = :dest AND status = 'pending'"
        ),
        {"dest": destination_id, "d": delay},
    )


async def drop_destination(conn: AsyncConnection, kind: str, destination_id: uuid.UUID, error: str) -> None:
    """A push subscription is gone: delete it, and give up what was still pending for it."""
    if kind == "push":
        await conn.execute(text("DELETE FROM push_subscriptions WHERE id = :id"), {"id": destination_id})
    await conn.execute(
        text(
            "UPDATE deliveries SET status = 'failed', last_error = :err, updated_at = now() "
            "WHERE destination_id = :dest AND status = 'pending'"
        ),
        {"dest": destination_id, "err": error},
    )


async def purge(conn: AsyncConnection, older_than_days: float) -> int:
    """Forget finished deliveries older than the retention."""
    res = await conn.execute(
        text("DELETE FROM deliveries WHERE status <> 'pending' AND updated_at < now() - make_interval(secs => :secs)"),
        {"secs": older_than_days * 86400.0},
    )
    return res.rowcount or 0
