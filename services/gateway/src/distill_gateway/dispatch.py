"""Handing accepted items to JetStream: right after commit, and by the outbox relay.

The gateway publishes each new item's first job after the transaction that stored it
commits and answers the call; then it marks the item dispatched (DispatchMarks: one UPDATE
for all the items published meanwhile). If it dies in between, the relay (one active across
gateway replicas, by a PostgreSQL advisory lock) publishes items left undispatched for a
few seconds, with the same Nats-Msg-Id, so JetStream drops the duplicate if there was one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from distill_core import failpoints
from distill_core.events import OutMsg, publish_all
from distill_core.logging import get_logger
from distill_core.runner.events import job_msg
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = get_logger(__name__)

RELAY_LOCK = 0x6F7574  # "out"

_UNDISPATCHED = text("""
SELECT i.id, i.task_id, i.tenant_id, i.current_stage, i.generation, t.priority, t.trace
FROM items i JOIN tasks t ON t.id = i.task_id
WHERE i.dispatched_at IS NULL AND i.status = 'pending' AND i.updated_at < now() - make_interval(secs => :delay)
ORDER BY i.updated_at
LIMIT :limit
FOR UPDATE OF i SKIP LOCKED
""")


def first_jobs(rows: Sequence[dict[str, Any]]) -> list[OutMsg]:
    return [job_msg(r, r["current_stage"]) for r in rows]


# Marked without waiting for the WAL flush (synchronous_commit off for this statement's
# own transaction): a mark lost in a crash only makes the relay publish the jobs again,
# with the same Nats-Msg-Id.
_MARK = text("""
WITH quick AS (SELECT set_config('synchronous_commit', 'off', true))
UPDATE items SET dispatched_at = now() FROM quick WHERE id = ANY(CAST(:ids AS uuid[])) AND dispatched_at IS NULL
""")


class DispatchMarks:
    """Marks published items dispatched, off the path of the call that published them.

    A mark waits `delay` seconds for the items published meanwhile, so that calls in quick
    succession cost one UPDATE between them rather than one each (the relay leaves an unmarked
    item alone for DISTILL_OUTBOX_DELAY, 5 s by default). A mark that never
    lands (the process dies, the database is away) only makes the relay publish those jobs
    again, with the same Nats-Msg-Id.
    """

    def __init__(self, engine: AsyncEngine, delay: float = 0.1) -> None:
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.delay = delay
        self._ids: list[uuid.UUID] = []
        self._writer: asyncio.Task[None] | None = None

    def add(self, ids: Sequence[uuid.UUID]) -> None:
        self._ids.extend(ids)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        while self._ids:
            ids, self._ids = self._ids, []
            try:
                async with self.engine.connect() as conn:
                    await conn.execute(_MARK, {"ids": ids})
            except Exception as e:
                log.warning("could not mark items dispatched; the relay will publish them again", error=str(e)[:200])

    async def drain(self) -> None:
        """Wait for the marks of everything published so far."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)


async def dispatch(
    js: JetStreamContext,
    engine: AsyncEngine,
    rows: Sequence[dict[str, Any]],
    extra: Sequence[OutMsg] = (),
    marks: DispatchMarks | None = None,
) -> None:
    """Publish the items' jobs (and `extra` events), then mark the items dispatched: at once,
    or through `marks` after this returns."""
    failpoints.crash("gateway.crash_before_publish")
    await publish_all(js, [*first_jobs(rows), *extra])
    ids = [r["id"] if isinstance(r["id"], uuid.UUID) else uuid.UUID(r["id"]) for r in rows]
    if marks is not None:
        marks.add(ids)
        return
    async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        await conn.execute(_MARK, {"ids": ids})


async def relay_once(js: JetStreamContext, engine: AsyncEngine, delay: float, limit: int = 1000) -> int:
    """Publish items not dispatched within `delay` seconds; returns how many."""
    async with engine.begin() as conn:
        got = (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": RELAY_LOCK})).scalar()
        if not got:
            return 0
        rows = [dict(r._mapping) for r in await conn.execute(_UNDISPATCHED, {"delay": delay, "limit": limit})]
        if not rows:
            return 0
        await publish_all(js, first_jobs(rows))
        await conn.execute(
            text("UPDATE items SET dispatched_at = now() WHERE id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": [r["id"] for r in rows]},
        )
    log.info("outbox relay published undispatched items", count=len(rows))
    return len(rows)


async def relay_forever(js: JetStreamContext, engine: AsyncEngine, delay: float, interval: float) -> None:
    while True:
        try:
            while await relay_once(js, engine, delay) > 0:
                pass
        except Exception as e:
            log.warning("outbox relay failed; will try again", error=str(e)[:200])
        await asyncio.sleep(interval)
