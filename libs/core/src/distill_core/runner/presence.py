"""Worker heartbeats in the KV bucket `distill_workers` (entries expire after the TTL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
from typing import TYPE_CHECKING

from distill.internal.v1 import jobs_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KeyValue

from distill_core import subjects

if TYPE_CHECKING:
    from distill_core.runner.runner import StageRunner

STATE_IDLE, STATE_BUSY, STATE_DRAINING = 1, 2, 3


def worker_key(stage: str, name: str) -> str:
    return f"{stage}.{re.sub(r'[^A-Za-z0-9_=-]', '_', name)}"


async def workers_bucket(js, ttl: float) -> KeyValue:  # type: ignore[no-untyped-def]
    try:
        return await js.key_value(subjects.WORKERS_BUCKET)
    except BucketNotFoundError:
        from nats.js.api import KeyValueConfig

        return await js.create_key_value(KeyValueConfig(bucket=subjects.WORKERS_BUCKET, ttl=ttl, history=1))


def heartbeat(runner: StageRunner) -> jobs_pb2.WorkerHeartbeat:
    started = Timestamp()
    started.FromSeconds(int(runner.started_at))
    now = Timestamp()
    now.GetCurrentTime()
    active = runner.active_item_ids
    state = STATE_DRAINING if runner.stopping.is_set() else (STATE_BUSY if active else STATE_IDLE)
    return jobs_pb2.WorkerHeartbeat(
        name=runner.name,
        stage=subjects.STAGE_ENUM[runner.stage.name],  # type: ignore[arg-type]
        host=socket.gethostname(),
        pid=os.getpid(),
        state=state,
        current_item_ids=active[:50],
        processed_count=runner.processed,
        failed_count=runner.failed,
        start_time=started,
        last_seen_time=now,
        concurrency=runner.cfg.concurrency,
    )


async def announce_forever(runner: StageRunner) -> None:
    ttl = runner.settings.worker_ttl
    kv = None
    while True:
        with contextlib.suppress(Exception):
            if kv is None:
                kv = await workers_bucket(runner.js, ttl)
            await kv.put(worker_key(runner.stage.name, runner.name), heartbeat(runner).SerializeToString())
        await asyncio.sleep(max(0.5, ttl / 3))


async def forget(runner: StageRunner) -> None:
    kv = await workers_bucket(runner.js, runner.settings.worker_ttl)
    await kv.delete(worker_key(runner.stage.name, runner.name))
