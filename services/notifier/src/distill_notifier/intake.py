"""From events to recorded deliveries: which destinations each event goes to.

The notifier acks an event only after its deliveries are committed, so an event is
never lost between the stream and the queue; reading it again records nothing new.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from distill.v1 import task_pb2
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from distill_notifier import queue
from distill_notifier.notices import Destination, event_kind, push_payload, wants, webhook_body


@dataclass(frozen=True, slots=True)
class Incoming:
    """One event read from the stream."""

    tenant_id: str
    sequence: int
    event: task_pb2.TaskEvent


def plan(
    events: Iterable[Incoming], destinations: Sequence[Destination], labels: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The delivery rows for `events` (pure: matching and payloads)."""
    by_tenant: dict[str, list[Destination]] = {}
    for d in destinations:
        by_tenant.setdefault(d.tenant_id, []).append(d)
    rows: list[dict[str, Any]] = []
    for inc in events:
        ev = inc.event
        kind = event_kind(ev)
        if kind is None or not ev.event_id:
            continue
        bodies: dict[str, str] = {}
        for d in by_tenant.get(inc.tenant_id, ()):
            if not wants(d, kind, ev.task_id, labels.get(ev.task_id)):
                continue
            if d.kind not in bodies:
                make = webhook_body if d.kind == "webhook" else push_payload
                bodies[d.kind] = make(ev, inc.tenant_id, inc.sequence)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "tenant_id": inc.tenant_id,
                    "kind": d.kind,
                    "destination_id": uuid.UUID(d.id),
                    "event_id": ev.event_id,
                    "event_type": kind,
                    "body": bodies[d.kind],
                    "status": "pending",
                    "attempts": 0,
                }
            )
    return rows


_DESTINATIONS = text(
    "SELECT id, 'webhook' AS kind, tenant_id, filter, task_id, labels FROM webhooks "
    "WHERE tenant_id = ANY(:t) "
    "UNION ALL SELECT id, 'push', tenant_id, filter, task_id, labels FROM push_subscriptions "
    "WHERE tenant_id = ANY(:t)"
)


async def destinations(conn: AsyncConnection, tenants: Iterable[str]) -> list[Destination]:
    """The webhooks and push subscriptions of these tenants."""
    tenants = sorted(set(tenants))
    if not tenants:
        return []
    rows = await conn.execute(_DESTINATIONS, {"t": tenants})
    return [
        Destination(
            id=str(r.id),
            kind=r.kind,
            tenant_id=r.tenant_id,
            filter=r.filter,
            task_id=str(r.task_id) if r.task_id else None,
            labels=dict(r.labels or {}),
        )
        for r in rows
    ]


async def task_labels(conn: AsyncConnection, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    ids = []
    for t in set(task_ids):
        try:
            ids.append(uuid.UUID(t))
        except ValueError:
            continue
    if not ids:
        return {}
    rows = await conn.execute(text("SELECT id, labels FROM tasks WHERE id = ANY(:ids)"), {"ids": ids})
    return {str(r.id): dict(r.labels or {}) for r in rows}


async def record_events(
    conn: AsyncConnection, events: Sequence[Incoming], dests: Sequence[Destination] | None = None
) -> int:
    """Record the deliveries of a batch of events (to `dests`, the destinations of their
    tenants, looked up when not given); returns how many new ones."""
    if dests is None:
        dests = await destinations(conn, (e.tenant_id for e in events))
    if not dests:
        return 0
    labels: dict[str, dict[str, Any]] = {}
    if any(d.labels for d in dests):
        labels = await task_labels(conn, (e.event.task_id for e in events))
    return await queue.record(conn, plan(events, dests, labels))
