"""Messages the runner publishes: item and task events, next jobs, dead letters."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from distill.internal.v1 import jobs_pb2
from distill.v1 import task_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from distill_core import convert, errors, subjects, tracing
from distill_core.errors import DistillError
from distill_core.events import OutMsg
from distill_core.events import item_event as _item_msg
from distill_core.events import task_event as _task_msg
from distill_core.runner.context import RESULT_NAMESPACE, JobContext
from distill_core.status import ITEM_STATUS, PHASE_STATUS, Counts


def _phase(
    ctx: JobContext,
    status: str,
    row: Mapping[str, Any] | None = None,
    error: Any = None,
    progress: int | None = None,
    message: str = "",
) -> task_pb2.Phase:
    row = row or {}
    p = task_pb2.Phase(
        stage=subjects.STAGE_ENUM[ctx.stage],  # type: ignore[arg-type]
        status=PHASE_STATUS[status],  # type: ignore[arg-type]
        attempts=int(row.get("attempts") or ctx.attempt),
        start_time=convert.ts(row.get("phase_started_at") or row.get("started_at") or ctx.item.get("phase_started_at")),
        finish_time=convert.ts(row.get("phase_finished_at")),
        progress=100 if status == "succeeded" else (progress or 0),
        message=message or row.get("phase_message") or "",
    )
    if error:
        p.error.CopyFrom(convert.error_to_proto(error))
    return p


def _item(ctx: JobContext, row: Mapping[str, Any], phase: task_pb2.Phase, status: str) -> task_pb2.Item:
    return task_pb2.Item(
        id=ctx.item_id,
        task_id=ctx.task_id,
        input_kind=convert.INPUT_KIND.get(ctx.item.get("input_kind") or "", 0),  # type: ignore[arg-type]
        input=ctx.item.get("input") or "",
        status=ITEM_STATUS[status],  # type: ignore[arg-type]
        current_stage=subjects.STAGE_ENUM.get(row.get("current_stage") or ctx.stage, 0),  # type: ignore[arg-type]
        phases=[phase],
        error=convert.error_to_proto(row.get("error")) if status == "failed" else None,
        title=row.get("title") or ctx.item.get("title") or "",
        position=int(ctx.item.get("position") or 0),
        update_time=convert.ts(row.get("updated_at")),
        finish_time=convert.ts(row.get("finished_at")),
    )


def _event_id(ctx: JobContext, what: str) -> str:
    return f"{ctx.item_id}:{ctx.stage}:{ctx.generation}:{ctx.attempt}:{what}"


def phase_event(ctx: JobContext, status: str) -> OutMsg:
    """The phase started (the item is running at this stage). Not confirmed: the phase's
    end event, which is, supersedes it."""
    item = _item(ctx, {}, _phase(ctx, status), "running")
    return _item_msg(ctx.tenant_id, item, _event_id(ctx, status), confirm=False)


def progress_event(ctx: JobContext, percent: int, message: str) -> OutMsg:
    item = _item(ctx, {}, _phase(ctx, "running", progress=percent, message=message), "running")
    return _item_msg(ctx.tenant_id, item, _event_id(ctx, f"progress-{percent}"), confirm=False)


def item_event(
    ctx: JobContext, row: Mapping[str, Any], phase_status: str, error: Mapping[str, Any] | None = None
) -> OutMsg:
    """The attempt ended: succeeded (item moved on or done), retrying, or failed."""
    error = error or (row.get("error") if phase_status == "failed" else None)
    phase = _phase(ctx, phase_status, row, error=error)
    status = row.get("status") or "running"
    item = _item(ctx, row, phase, status)
    # Confirmed (waited for) only when the item ends or waits for a retry: the end of an
    # intermediate stage is followed by the next stage's events and the item's end.
    confirm = status != "pending" or phase_status != "succeeded"
    return _item_msg(ctx.tenant_id, item, _event_id(ctx, phase_status), confirm=confirm)


def task_changed(row: Mapping[str, Any], counts: Counts | None = None, *, terminal: bool = False) -> OutMsg:
    task = convert.task_to_proto(row, counts)
    stamp = row.get("finished_at") or row.get("started_at") or row.get("updated_at")
    eid = f"{row['id']}:task:{row['status']}:{stamp.isoformat() if stamp else ''}"
    return _task_msg(str(row["tenant_id"]), task, eid, terminal=terminal)


def job_msg(row: Mapping[str, Any], stage: str) -> OutMsg:
    """The job for `stage` of the item in `row` (deduplicated by its Nats-Msg-Id)."""
    gen = int(row.get("generation") or 0)
    prio = row.get("priority") or "normal"
    item_id = str(row["id"])
    trace = dict(row.get("trace") or {})
    ns = time.time_ns()  # (Timestamp.GetCurrentTime() costs four times as much)
    job = jobs_pb2.Job(
        item_id=item_id,
        task_id=str(row["task_id"]),
        tenant_id=str(row["tenant_id"]),
        stage=subjects.STAGE_ENUM[stage],  # type: ignore[arg-type]
        generation=gen,
        priority=subjects.PRIORITY_ENUM[prio],  # type: ignore[arg-type]
        enqueue_time=Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000),
        trace=trace,
    )
    return OutMsg(
        subjects.job_subject(stage, prio),
        job.SerializeToString(),
        subjects.msg_id(item_id, stage, gen),
        headers=tracing.headers_of(trace),
    )


def dead_letter_id(ctx: JobContext) -> uuid.UUID:
    return uuid.uuid5(RESULT_NAMESPACE, f"{ctx.item_id}:{ctx.stage}:{ctx.generation}:{ctx.attempt}:dlq")


def dead_letter_record(
    job: jobs_pb2.Job | None,
    err: DistillError,
    worker: str,
    deliveries: int,
    *,
    raw: bytes = b"",
    stage: str = "",
    attempt: int = 0,
    id: uuid.UUID | None = None,
) -> jobs_pb2.DeadLetterRecord:
    now = Timestamp()
    now.GetCurrentTime()
    return jobs_pb2.DeadLetterRecord(
        id=str(id or uuid.uuid4()),
        job=job,
        error=errors.error_info(err, stage=subjects.STAGE_ENUM.get(stage, 0), attempt=attempt),
        deliveries=deliveries,
        create_time=now,
        worker=worker,
        raw=raw if job is None else b"",
    )


def dead_letter_msg(ctx: JobContext, err: DistillError, worker: str) -> OutMsg:
    rec = dead_letter_record(
        ctx.job,
        err,
        worker,
        int(ctx.msg.metadata.num_delivered or 0) if ctx.msg.reply else 0,
        stage=ctx.stage,
        attempt=ctx.attempt,
        id=dead_letter_id(ctx),
    )
    return OutMsg(subjects.dlq_subject(ctx.stage), rec.SerializeToString(), rec.id)


def dead_letter_row(ctx: JobContext, err: DistillError) -> dict[str, Any]:
    return {
        "id": dead_letter_id(ctx),
        "tenant_id": ctx.tenant_id,
        "task_id": ctx.task_id,
        "item_id": ctx.item_id,
        "stage": ctx.stage,
        "error": errors.error_dict(err, stage=ctx.stage, attempt=ctx.attempt),
        "deliveries": int(ctx.msg.metadata.num_delivered or 0) if ctx.msg.reply else 0,
        "job": ctx.job.SerializeToString(),
    }


def raw_dead_letter_row(rec: jobs_pb2.DeadLetterRecord, stage: str) -> dict[str, Any]:
    job = rec.job if rec.HasField("job") else None
    return {
        "id": uuid.UUID(rec.id),
        "tenant_id": job.tenant_id if job else None,
        "task_id": job.task_id if job else None,
        "item_id": job.item_id if job else None,
        "stage": stage,
        "error": {
            "code": rec.error.code,
            "message": rec.error.message,
            "retryable": rec.error.retryable,
            "stage": stage,
            "attempt": rec.error.attempt,
        },
        "deliveries": rec.deliveries,
        "job": job.SerializeToString() if job else rec.raw,
    }
