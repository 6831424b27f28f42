"""The janitor: retention, unfinished tasks, orphaned items. One active across replicas.

Each round runs under a PostgreSQL advisory lock (transaction-scoped), so with several
gateway replicas exactly one does the work.

- Retention: succeeded/cancelled tasks older than `retention_days`, failed and partially
  failed ones older than `retention_failed_days`, are deleted with their items, phases,
  exports and dead letters, and with content no other item still refers to.
- Uploads: a task's uploaded files are deleted from the Object Store before its rows,
  so none outlives its task; files no task owns (an upload cut off by a crash, a task
  deleted another way) are deleted too (upload_store.py).
- Unfinished tasks: a task whose items are all terminal but which was never finished (a
  worker died between recording the last item and finishing the task) is finished, and
  its terminal event published.
- Orphans: an unfinished item whose stage lane has nothing queued and nothing in flight
  cannot have a job anywhere (a NATS crash lost it, say): its job is published again.
"""

from __future__ import annotations

import asyncio
import time

from distill_core import subjects
from distill_core.events import OutMsg, publish_all
from distill_core.logging import get_logger
from distill_core.runner import store
from distill_core.runner.events import job_msg, task_changed
from distill_core.settings import GatewaySettings
from distill_core.status import rollup
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from distill_gateway import report_store, upload_store

log = get_logger(__name__)

JANITOR_LOCK = 0x6A616E  # "jan"

_EXPIRED = text("""
SELECT id FROM tasks
WHERE finished_at IS NOT NULL AND (
  (status IN ('succeeded', 'cancelled') AND finished_at < now() - make_interval(days => :keep))
  OR (status IN ('failed', 'partially_failed') AND finished_at < now() - make_interval(days => :keep_failed)))
LIMIT :limit
""")

_DELETE = text("""
WITH doomed AS (SELECT unnest(CAST(:ids AS uuid[])) AS id),
gone_items AS (SELECT i.id, i.parsed_content_id, i.ai_output_id FROM items i JOIN doomed d ON d.id = i.task_id),
del_exports AS (DELETE FROM exports e USING gone_items g WHERE e.item_id = g.id),
del_dead AS (DELETE FROM dead_letters dl USING doomed d WHERE dl.task_id = d.id),
del_ai AS (
  DELETE FROM ai_outputs a
  WHERE (a.item_id IN (SELECT id FROM gone_items) OR a.id IN (SELECT ai_output_id FROM gone_items))
    AND NOT EXISTS (SELECT 1 FROM items o WHERE o.ai_output_id = a.id AND o.task_id <> ALL(CAST(:ids AS uuid[])))),
del_parsed AS (
  DELETE FROM parsed_contents p
  WHERE (p.item_id IN (SELECT id FROM gone_items) OR p.id IN (SELECT parsed_content_id FROM gone_items))
    AND NOT EXISTS (SELECT 1 FROM items o WHERE o.parsed_content_id = p.id AND o.task_id <> ALL(CAST(:ids AS uuid[])))
    AND NOT EXISTS (SELECT 1 FROM ai_outputs a WHERE a.parsed_content_id = p.id
                    AND a.item_id NOT IN (SELECT id FROM gone_items)))
DELETE FROM tasks t USING doomed d WHERE t.id = d.id
""")

_UNFINISHED = text("""
SELECT t.id FROM tasks t
WHERE t.finished_at IS NULL AND t.status <> 'cancelled' AND t.updated_at < now() - make_interval(secs => :grace)
  AND NOT EXISTS (SELECT 1 FROM items i WHERE i.task_id = t.id AND i.status IN ('pending', 'running'))
LIMIT 1000
""")

_ORPHANS = text("""
SELECT i.id, i.task_id, i.tenant_id, i.current_stage, i.generation, t.priority, t.trace
FROM items i JOIN tasks t ON t.id = i.task_id
WHERE i.status IN ('pending', 'running') AND i.current_stage = :stage AND t.priority = :priority
  AND i.dispatched_at IS NOT NULL AND i.updated_at < now() - make_interval(secs => :grace)
LIMIT 1000
""")


class Janitor:
    def __init__(self, settings: GatewaySettings, engine: AsyncEngine, js: JetStreamContext) -> None:
        self.s = settings
        self.engine = engine
        self.js = js

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("janitor round failed; will try again", error=str(e)[:300])
            await asyncio.sleep(self.s.janitor_interval)

    async def run_once(self) -> dict[str, int]:
        """One round; returns what it did (for tests and logs)."""
        done = {"deleted_tasks": 0, "finished_tasks": 0, "requeued_items": 0, "requeued_reports": 0}
        async with self.engine.begin() as conn:
            if not (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": JANITOR_LOCK})).scalar():
                return done
            done["deleted_tasks"] = await self._retention(conn)
            done["deleted_uploads"] = await upload_store.collect(conn, self.js, self.s.upload_timeout + 60)
            finished = await self._finish_unfinished(conn)
            done["finished_tasks"] = len(finished)
            requeue = await self._orphans(conn)
            done["requeued_items"] = len(requeue)
            reports = await report_store.lost_jobs(conn, self.js, self.s.report_stale_after)
            done["requeued_reports"] = len(reports)
            # Publish inside the locked transaction: a second janitor cannot double up.
            await publish_all(self.js, [*finished, *requeue, *reports])
        if any(done.values()):
            log.info("janitor round", **done)
        return done

    async def _retention(self, conn: AsyncConnection) -> int:
        total = 0
        while True:
            ids = [
                r[0]
                for r in await conn.execute(
                    _EXPIRED, {"keep": self.s.retention_days, "keep_failed": self.s.retention_failed_days, "limit": 500}
                )
            ]
            if not ids:
                return total
            await upload_store.delete_for_tasks(conn, self.js, ids)  # the files first: none outlives its task
            await conn.execute(_DELETE, {"ids": ids})
            total += len(ids)

    async def _finish_unfinished(self, conn: AsyncConnection) -> list[OutMsg]:
        ids = [r[0] for r in await conn.execute(_UNFINISHED, {"grace": self.s.orphan_grace})]
        if not ids:
            return []
        counts = await store.task_counts(conn, ids)
        rows = await store.finish_tasks(conn, {tid: rollup(c) for tid, c in counts.items() if c.done})
        return [task_changed(r, counts[r["id"]], terminal=True) for r in rows]

    async def _orphans(self, conn: AsyncConnection) -> list[OutMsg]:
        out: list[OutMsg] = []
        for stage in subjects.STAGES:
            for prio in subjects.PRIORITIES:
                info = await self.js.consumer_info(subjects.JOBS_STREAM, subjects.job_consumer(stage, prio))
                if info.num_pending or info.num_ack_pending:
                    continue  # jobs are queued or in flight: items may just be waiting their turn
                rows = [
                    dict(r._mapping)
                    for r in await conn.execute(
                        _ORPHANS, {"stage": stage, "priority": prio, "grace": self.s.orphan_grace}
                    )
                ]
                for r in rows:
                    m = job_msg(r, stage)
                    # A new id: the lost original may still sit in the duplicate window.
                    out.append(OutMsg(m.subject, m.data, f"{m.msg_id}:requeue:{int(time.time())}"))
                if rows:
                    await conn.execute(
                        text("UPDATE items SET updated_at = now() WHERE id = ANY(CAST(:ids AS uuid[]))"),
                        {"ids": [r["id"] for r in rows]},
                    )
                    log.warning("re-queued orphaned items", stage=stage, priority=prio, count=len(rows))
        return out
