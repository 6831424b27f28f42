"""Every NATS stream, subject, consumer and bucket name, in one place.

JOBS    distill.jobs.<stage>.<priority>    WorkQueue, one durable per stage and lane
EVENTS  distill.events.<tenant>.<task>     Limits, max_age
DLQ     distill.dlq.<stage>                Limits
KV      distill_workers                    worker heartbeats with TTL
core    distill.control.cancel             cancel running work (not persisted)
OBJ     distill_uploads                    uploaded files (JetStream Object Store)
JOBS    distill.jobs.report                report jobs (one durable, "report"; not a stage)
"""

from __future__ import annotations

import base64

from distill.v1 import common_pb2

STAGES: tuple[str, ...] = ("parse", "ai", "notion")
PRIORITIES: tuple[str, ...] = ("high", "normal", "low")

JOBS_STREAM = "JOBS"
EVENTS_STREAM = "EVENTS"
DLQ_STREAM = "DLQ"
WORKERS_BUCKET = "distill_workers"

JOBS_PREFIX = "distill.jobs"
EVENTS_PREFIX = "distill.events"
DLQ_PREFIX = "distill.dlq"
# JetStream republishes each stored event here (with its stream sequence in the headers):
# the gateway's live feed for watchers, one core subscription per tenant.
LIVE_PREFIX = "distill.live"
CANCEL_SUBJECT = "distill.control.cancel"
# JetStream's MAX_DELIVERIES advisories for JOBS, kept in a stream so none is missed
# while no worker is listening.
ADVISORIES_STREAM = "ADVISORIES"
ADVISORIES_PREFIX = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS"
NOTIFIER_CONSUMER = "notifier"

# Stage name <-> proto enum.
STAGE_ENUM: dict[str, int] = {
    "parse": common_pb2.STAGE_PARSE,
    "ai": common_pb2.STAGE_AI,
    "notion": common_pb2.STAGE_NOTION,
}
STAGE_NAME: dict[int, str] = {v: k for k, v in STAGE_ENUM.items()}

PRIORITY_ENUM: dict[str, int] = {
    "high": common_pb2.PRIORITY_HIGH,
    "normal": common_pb2.PRIORITY_NORMAL,
    "low": common_pb2.PRIORITY_LOW,
}
PRIORITY_NAME: dict[int, str] = {v: k for k, v in PRIORITY_ENUM.items()}
PRIORITY_NAME[common_pb2.PRIORITY_UNSPECIFIED] = "normal"


def next_stage(stage: str, stages: list[str] | tuple[str, ...]) -> str | None:
    """The stage after `stage` among the task's `stages`, or None when it is the last."""
    i = stages.index(stage)
    return stages[i + 1] if i + 1 < len(stages) else None


def job_subject(stage: str, priority: str = "normal") -> str:
    return f"{JOBS_PREFIX}.{stage}.{priority}"


def job_consumer(stage: str, priority: str) -> str:
    """Durable pull consumer of one stage's lane."""
    return f"{stage}-{priority}"


# Reports (PDF, Markdown, JSON of a task) are small jobs of their own, in JOBS beside the
# stages' lanes (which never match this subject), worked by the export service.
REPORT_SUBJECT = f"{JOBS_PREFIX}.report"
REPORT_CONSUMER = "report"


def report_msg_id(report_id: str, dispatch: int | str = 0) -> str:
    """Nats-Msg-Id of a report job (`dispatch` tells a re-publish from the first one)."""
    return f"report:{report_id}:{dispatch}"


def event_subject(tenant_id: str, task_id: str) -> str:
    return f"{EVENTS_PREFIX}.{tenant_id}.{task_id}"


def tenant_events(tenant_id: str) -> str:
    return f"{EVENTS_PREFIX}.{tenant_id}.*"


def dlq_subject(stage: str) -> str:
    return f"{DLQ_PREFIX}.{stage}"


def msg_id(item_id: str, stage: str, generation: int) -> str:
    """Nats-Msg-Id of a job: JetStream drops a second publish of the same job."""
    return f"{item_id}:{stage}:{generation}"


def max_deliveries_advisory(consumer: str) -> str:
    return f"{ADVISORIES_PREFIX}.{consumer}"


def advisory_consumer(stage: str) -> str:
    """Durable on ADVISORIES through which a stage's runner learns of jobs JetStream gave up on."""
    return f"advisory-{stage}"


# --- uploaded files ---------------------------------------------------------------------
# UploadFiles stores each file in the JetStream Object Store bucket UPLOADS_BUCKET, in the
# standard layout (`nats object get distill_uploads <id>` reads one): its chunks on
# $O.<bucket>.C.<object id>, its description on $O.<bucket>.M.<base64url of the id>.
# The item's input names it: upload://<object id>/<original file name>.
UPLOADS_BUCKET = "distill_uploads"
UPLOADS_STREAM = f"OBJ_{UPLOADS_BUCKET}"
UPLOAD_SCHEME = "upload://"


def upload_chunks_subject(object_id: str) -> str:
    return f"$O.{UPLOADS_BUCKET}.C.{object_id}"


def upload_meta_subject(object_id: str) -> str:
    return f"$O.{UPLOADS_BUCKET}.M.{base64.urlsafe_b64encode(object_id.encode()).decode()}"


def upload_input(object_id: str, file_name: str) -> str:
    """An uploaded file's item input (what GetItem and the command line show)."""
    return f"{UPLOAD_SCHEME}{object_id}/{file_name}"


def upload_parts(item_input: str) -> tuple[str, str] | None:
    """(object id, file name) of an item input made by upload_input, else None."""
    if not item_input.startswith(UPLOAD_SCHEME):
        return None
    object_id, _, name = item_input[len(UPLOAD_SCHEME) :].partition("/")
    return (object_id, name) if object_id else None
