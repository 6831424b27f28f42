"""What the operator sees of the machinery: live workers (KV heartbeats) and the job lanes.

Workers write a `WorkerHeartbeat` into the KV bucket `distill_workers` every TTL/3
seconds; the bucket forgets entries after the TTL. A worker killed without a goodbye is
also hidden as soon as its last heartbeat is older than the TTL, whatever the bucket's
expiry timer says.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from distill.internal.v1 import jobs_pb2
from distill.v1 import admin_pb2
from distill_core import subjects
from google.protobuf.duration_pb2 import Duration
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError
from nats.js.errors import NotFoundError as JsNotFound


def worker_from_heartbeat(hb: jobs_pb2.WorkerHeartbeat) -> admin_pb2.Worker:
    """The public Worker of a heartbeat: the two messages share field numbers and wire types."""
    return admin_pb2.Worker.FromString(hb.SerializeToString())


def live_workers(
    beats: Iterable[jobs_pb2.WorkerHeartbeat], *, ttl: float, now: float, stage: int = 0
) -> list[admin_pb2.Worker]:
    """Workers heard from within `ttl` seconds of `now`, of `stage` (0: all), by stage then name."""
    out = [
        worker_from_heartbeat(hb)
        for hb in beats
        if (not stage or hb.stage == stage) and now - hb.last_seen_time.ToMicroseconds() / 1e6 <= ttl
    ]
    return sorted(out, key=lambda w: (w.stage, w.name))


async def heartbeats(js: JetStreamContext, timeout: float = 5.0) -> list[jobs_pb2.WorkerHeartbeat]:
    """Every heartbeat in the bucket now (none when no worker ever started)."""
    try:
        kv = await js.key_value(subjects.WORKERS_BUCKET)
    except BucketNotFoundError:
        return []
    watcher = await kv.watchall(ignore_deletes=True)
    beats = []
    try:
        async with asyncio.timeout(timeout):
            async for entry in watcher:
                if entry is None:  # the initial values are done
                    break
                if entry.value:
                    with contextlib.suppress(Exception):
                        beats.append(jobs_pb2.WorkerHeartbeat.FromString(entry.value))
    finally:
        with contextlib.suppress(Exception):
            await watcher.stop()
    return beats


async def list_workers(js: JetStreamContext, ttl: float, stage: int = 0) -> list[admin_pb2.Worker]:
    return live_workers(await heartbeats(js), ttl=ttl, now=time.time(), stage=stage)


def _duration(seconds: float) -> Duration:
    d = Duration()
    d.FromMicroseconds(int(max(0.0, seconds) * 1e6))
    return d


async def _lane(js: JetStreamContext, stage: str, prio: str, now: datetime) -> admin_pb2.LaneStats:
    lane = admin_pb2.LaneStats(stage=subjects.STAGE_ENUM[stage], priority=subjects.PRIORITY_ENUM[prio])  # type: ignore[arg-type]
    try:
        ci = await js.consumer_info(subjects.JOBS_STREAM, subjects.job_consumer(stage, prio))
    except JsNotFound:
        return lane
    lane.pending = int(ci.num_pending or 0)
    lane.ack_pending = int(ci.num_ack_pending or 0)
    lane.redelivered = int(ci.num_redelivered or 0)
    if lane.pending or lane.ack_pending:
        # A WorkQueue stream keeps a job until it is acknowledged: the lane's first message is its oldest.
        with contextlib.suppress(JsNotFound):
            first: Any = await js.get_msg(
                subjects.JOBS_STREAM, seq=1, subject=subjects.job_subject(stage, prio), next=True
            )
            if first.time is not None:
                lane.oldest_age.CopyFrom(_duration((now - first.time).total_seconds()))
    return lane


async def lane_stats(js: JetStreamContext) -> list[admin_pb2.LaneStats]:
    """Pending, ack-pending, redelivered and the oldest job's age, per stage and priority lane."""
    now = datetime.now(UTC)
    return list(
        await asyncio.gather(
            *(_lane(js, stage, prio, now) for stage in subjects.STAGES for prio in subjects.PRIORITIES)
        )
    )
