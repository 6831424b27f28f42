"""The gateway's side of reports: rows, the report job, the proto, and the janitor's sweep.

A report row is written (queued) in one transaction, then its job is published on
`distill.jobs.report`; the export service's report worker makes it. If the publish is
lost (the gateway dies after the commit, NATS restarts), the janitor finds the report
idle past DISTILL_REPORT_STALE_AFTER with nothing queued or in flight for the report
consumer, and publishes its job again. Reports are deleted with their task (the
foreign key cascades), so retention needs nothing of its own.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from distill.internal.v1 import jobs_pb2
from distill.v1 import report_pb2
from distill_core import convert, report_formats, subjects
from distill_core.db.models import Report
from distill_core.errors import ResourceExhausted
from distill_core.events import OutMsg
from distill_core.logging import get_logger
from distill_core.status import TASK_STATUS
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError as JsNotFound
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

log = get_logger(__name__)

META_COLS = [c for c in Report.__table__.c if c.name != "content"]
CHUNK_BYTES = 256 * 1024

_ACTIVE = text("SELECT count(*) FROM reports WHERE tenant_id = :t AND status IN ('queued', 'running')")
# Finished reports of the task beyond the newest `keep` - 1, making room for the new one
# (reports being made are never removed).
_PRUNE = text("""
DELETE FROM reports WHERE id IN (
  SELECT id FROM reports WHERE task_id = :task AND status IN ('succeeded', 'failed')
  ORDER BY created_at DESC, id DESC OFFSET :keep)
""")
_LOST = text("""
SELECT id, task_id, tenant_id FROM reports
WHERE status IN ('queued', 'running') AND updated_at < now() - make_interval(secs => :stale)
ORDER BY updated_at LIMIT 1000
""")


def to_proto(r: dict[str, Any], content: bytes | None = None) -> report_pb2.Report:
    fmt = r["format"]
    return report_pb2.Report(
        id=str(r["id"]),
        task_id=str(r["task_id"]),
        format=report_formats.FORMATS.get(fmt, 0),  # type: ignore[arg-type]
        status=report_formats.STATUSES.get(r["status"], 0),  # type: ignore[arg-type]
        error=convert.error_to_proto(r.get("error")),
        size_bytes=int(r.get("size_bytes") or 0),
        content_type=report_formats.CONTENT_TYPES.get(fmt, "application/octet-stream"),
        filename=report_formats.filename(str(r["task_id"]), fmt),
        sha256=r.get("sha256") or "",
        content=content or b"",
        item_count=int(r.get("item_count") or 0),
        task_status=TASK_STATUS.get(r.get("task_status") or "", 0),  # type: ignore[arg-type]
        attempts=int(r.get("attempts") or 0),
        create_time=convert.ts(r.get("created_at")),
        start_time=convert.ts(r.get("started_at")),
        finish_time=convert.ts(r.get("finished_at")),
    )


def job_msg(report_id: uuid.UUID, task_id: uuid.UUID, tenant_id: str, dispatch: int = 0) -> OutMsg:
    job = jobs_pb2.ReportJob(report_id=str(report_id), task_id=str(task_id), tenant_id=tenant_id)
    job.enqueue_time.GetCurrentTime()
    return OutMsg(subjects.REPORT_SUBJECT, job.SerializeToString(), subjects.report_msg_id(str(report_id), dispatch))


async def create(
    conn: AsyncConnection, tenant_id: str, task_id: uuid.UUID, fmt: str, *, max_active: int, keep: int
) -> dict[str, Any]:
    """A queued report of the task, within the tenant's limit of active reports; old finished ones pruned."""
    # One tenant's concurrent requests take turns here, so none slips past the limit.
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"reports:{tenant_id}"})
    active = int((await conn.execute(_ACTIVE, {"t": tenant_id})).scalar_one())
    if active >= max_active:
        raise ResourceExhausted(
            f"{active} reports are already queued or running for this tenant (the limit, "
            f"DISTILL_REPORT_MAX_ACTIVE, is {max_active}); wait for one to finish"
        )
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "task_id": task_id, "format": fmt, "status": "queued"}
    await conn.execute(Report.__table__.insert().values(**row, attempts=0))
    await conn.execute(_PRUNE, {"task": task_id, "keep": keep - 1})
    found = await get(conn, tenant_id, row["id"])
    assert found is not None
    return found


async def get(
    conn: AsyncConnection, tenant_id: str, report_id: uuid.UUID, *, inline: int = -1
) -> dict[str, Any] | None:
    """The report's row without its content; with `inline` >= 0, plus the content of a
    succeeded report of at most that many bytes (key "content")."""
    cols: list[Any] = list(META_COLS)
    if inline >= 0:
        cols.append(
            text("CASE WHEN status = 'succeeded' AND size_bytes <= :inline THEN content END AS content").bindparams(
                inline=inline
            )
        )
    q = select(*cols).where(Report.id == report_id, Report.tenant_id == tenant_id)
    r = (await conn.execute(q)).first()
    return dict(r._mapping) if r else None


async def read_slice(
    conn: AsyncConnection, tenant_id: str, report_id: uuid.UUID, offset: int, size: int
) -> bytes | None:
    """`size` bytes of the content from `offset` (None when the report is gone)."""
    q = text("SELECT substring(content FROM :start FOR :n) FROM reports WHERE id = :id AND tenant_id = :t")
    r = (await conn.execute(q, {"start": offset + 1, "n": size, "id": report_id, "t": tenant_id})).first()
    return bytes(r[0] or b"") if r else None


async def lost_jobs(conn: AsyncConnection, js: JetStreamContext, stale_after: float) -> list[OutMsg]:
    """Jobs to publish again for reports idle past `stale_after` whose job is nowhere (the janitor)."""
    try:
        info = await js.consumer_info(subjects.JOBS_STREAM, subjects.REPORT_CONSUMER)
    except JsNotFound:
        return []  # no report worker has started yet: the jobs wait in JOBS for its consumer
    if info.num_pending or info.num_ack_pending:
        return []  # jobs queued or being worked on: reports may just be waiting their turn
    rows = [dict(r._mapping) for r in await conn.execute(_LOST, {"stale": stale_after})]
    if not rows:
        return []
    await conn.execute(
        text("UPDATE reports SET updated_at = now() WHERE id = ANY(CAST(:ids AS uuid[]))"),
        {"ids": [r["id"] for r in rows]},
    )
    log.warning("re-queued reports whose job was lost", count=len(rows))
    now = int(time.time())
    return [job_msg(r["id"], r["task_id"], r["tenant_id"], dispatch=now) for r in rows]
