"""MAX_DELIVERIES advisories: a job JetStream gave up redelivering becomes a dead letter.

The runner's own attempt counting (in PostgreSQL) normally fails such a job first; this
is the backstop for one that never got as far as being claimed.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING

from distill.internal.v1 import jobs_pb2
from nats.aio.msg import Msg

from distill_core import errors, subjects
from distill_core.logging import get_logger
from distill_core.runner import store
from distill_core.runner.context import JobContext

if TYPE_CHECKING:
    from distill_core.runner.runner import StageRunner

log = get_logger(__name__)


async def handle_max_deliveries(runner: StageRunner, msg: Msg) -> None:
    from distill_core.runner.runner import Outcome

    try:
        adv = json.loads(msg.data)
        seq = int(adv["stream_seq"])
        deliveries = int(adv.get("deliveries", 0))
    except Exception:
        return
    assert runner.js is not None and runner.nc is not None
    try:
        raw = await runner.js.get_msg(subjects.JOBS_STREAM, seq)
    except Exception:  # already removed (settled after all)
        return
    err = errors.PoisonMessage(f"JetStream gave up after {deliveries} deliveries")
    try:
        job = jobs_pb2.Job.FromString(raw.data or b"")
    except Exception:
        job = None
    fake = Msg(runner.nc, subject=raw.subject or "", reply="", data=raw.data or b"", headers=raw.headers)
    claimed = []
    if job is not None and job.item_id:
        claimed = await runner._with_db(lambda c: store.claim(c, runner.stage.name, [(job.item_id, job.generation)]))
    if claimed:
        ctx = JobContext(
            msg=fake,
            job=job,
            stage=runner.stage.name,
            item=claimed[0],  # type: ignore[arg-type]
            attempt=int(claimed[0]["attempts"]),
        )
        runner._done_q.put_nowait(Outcome(ctx, "fail", error=err))
    else:
        await runner._dead_letter_raw(fake, err, job=job)
    with contextlib.suppress(Exception):
        await runner.js.delete_msg(subjects.JOBS_STREAM, seq)
    log.warning("max deliveries reached", stage=runner.stage.name, stream_seq=seq, deliveries=deliveries)
