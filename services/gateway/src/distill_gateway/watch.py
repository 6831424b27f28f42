"""WatchTask and WatchTasks: events from the EVENTS stream, heartbeats while idle.

WatchTask: the snapshot is read after noting the EVENTS stream's last sequence, and
events are replayed from just after it, so nothing between the two is missed (an event
already reflected in the snapshot may arrive again; applying it twice changes nothing).

Every event carries its stream sequence, and a heartbeat carries the last sequence the
stream has passed, so `from_sequence` resumes right after it with nothing missed or
repeated: JetStream sequences are dense and ordered within one subject filter.

WatchTasks follows `distill.events.<tenant>.*` (only the caller's tenant) and never ends
on its own; a label filter looks each task's labels up once (they never change).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from distill.v1 import task_pb2
from distill_core import subjects
from distill_core.errors import ResourceExhausted
from distill_core.settings import GatewaySettings
from distill_core.status import TASK_STATUS
from google.protobuf.timestamp_pb2 import Timestamp
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js import api as jsapi
from nats.js.errors import NotFoundError as JsNotFound
from sqlalchemy.ext.asyncio import AsyncEngine

from distill_gateway import repo

TERMINAL = {TASK_STATUS[s] for s in ("succeeded", "partially_failed", "failed", "cancelled")}

# Each watcher's buffer in the gateway is bounded (BUFFER_MSGS, BUFFER_BYTES). A watcher that
# falls behind is dropped with RESOURCE_EXHAUSTED naming the from_sequence to resume from (with
# nothing missed), rather than buffering without bound or slowing anything else: when its buffer
# overflowed (the NATS client drops what does not fit; the gap shows in the consumer sequence),
# or when its client stopped reading (a write held back by gRPC flow control for STALL_SECONDS)
# while MAX_BEHIND events wait behind it.
MAX_BEHIND = 1000
STALL_SECONDS = 1.0
BUFFER_MSGS = 5000
BUFFER_BYTES = 4 * 1024 * 1024


def fell_behind(behind: int | str, last_sent: int) -> ResourceExhausted:
    return ResourceExhausted(
        f"this watch fell {behind} events behind (the client reads slower than events arrive); "
        f"reconnect with from_sequence={last_sent} to resume with nothing missed"
    )


class Lag:
    """Tells when a watcher must be dropped: a buffer overflow or a stalled client."""

    def __init__(self, sub: Any) -> None:
        self.sub = sub
        self.next_consumer_seq = 1

    def check_arrival(self, msg: Any, last_sent: int) -> None:
        """Before sending `msg`: nothing was dropped between the previous message and it."""
        seq = int(msg.metadata.sequence.consumer)
        if seq not in (self.next_consumer_seq, 1):  # 1: the ordered consumer was re-created
            raise fell_behind(f"more than {self.sub.pending_msgs}", last_sent)
        self.next_consumer_seq = seq + 1

    def check_write(self, write_wait: float, last_sent: int) -> None:
        """After a write that waited `write_wait` seconds for the client."""
        behind = self.sub.pending_msgs
        if behind >= MAX_BEHIND and write_wait >= STALL_SECONDS:
            raise fell_behind(behind, last_sent)


def _now() -> Timestamp:
    t = Timestamp()
    t.GetCurrentTime()
    return t


class Watcher:
    def __init__(self, settings: GatewaySettings, engine: AsyncEngine, js: JetStreamContext) -> None:
        self.settings = settings
        self.engine = engine
        self.js = js

    async def _finished_status(self, tenant: str, task_id: str) -> task_pb2.Task | None:
        """The task, when it is in a terminal status; else None."""
        from distill_core import convert

        async with self.engine.connect() as conn:
            row = await repo.get_task(conn, tenant, uuid.UUID(task_id))
            if row is None or row["status"] not in ("succeeded", "partially_failed", "failed", "cancelled"):
                return None
            counts = (await repo.counts(conn, [row["id"]])).get(row["id"])
        return convert.task_to_proto(row, counts)

    async def _last_seq(self, subject: str) -> int:
        try:
            return int((await self.js.get_last_msg(subjects.EVENTS_STREAM, subject)).seq or 0)
        except JsNotFound:
            return 0

    async def watch_task(
        self, tenant: str, task_id: str, from_seq: int, snapshot: Callable[[], Awaitable[task_pb2.Task]]
    ) -> AsyncIterator[task_pb2.TaskEvent]:
        subject = subjects.event_subject(tenant, task_id)
        if from_seq == 0:
            last = int((await self.js.stream_info(subjects.EVENTS_STREAM)).state.last_seq)
            task = await snapshot()
            done = task.status in TERMINAL
            yield task_pb2.TaskEvent(
                sequence=last,
                type=task_pb2.EVENT_TYPE_SNAPSHOT,
                time=_now(),
                task_id=task_id,
                task=task,
                event_id=f"{task_id}:snapshot:{last}",
                terminal=done,
            )
            if done:
                return
            start = last + 1
        else:
            start = from_seq + 1
            final = await self._finished_status(tenant, task_id)
            if final is not None and await self._last_seq(subject) <= from_seq:
                yield self._final(task_id, final, from_seq)
                return
        async for ev in self._follow(tenant, task_id, subject, start):
            yield ev

    def _final(self, task_id: str, task: task_pb2.Task, seq: int) -> task_pb2.TaskEvent:
        return task_pb2.TaskEvent(
            sequence=seq,
            type=task_pb2.EVENT_TYPE_TASK_UPDATED,
            time=_now(),
            task_id=task_id,
            task=task,
            event_id=f"{task_id}:final:{seq}",
            terminal=True,
        )

    async def _subscribe(self, subject: str, start: int) -> Any:
        """An ordered consumer on `subject` from stream sequence `start`."""
        return await self.js.subscribe(
            subject,
            stream=subjects.EVENTS_STREAM,
            ordered_consumer=True,
            config=jsapi.ConsumerConfig(
                deliver_policy=jsapi.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start, inactive_threshold=30.0
            ),
            pending_msgs_limit=BUFFER_MSGS,
            pending_bytes_limit=BUFFER_BYTES,
        )

    async def _follow(self, tenant: str, task_id: str, subject: str, start: int) -> AsyncIterator[task_pb2.TaskEvent]:
        sub = await self._subscribe(subject, start)
        lag = Lag(sub)
        last_seen = start - 1
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=self.settings.watch_heartbeat)
                except (TimeoutError, NatsTimeout):
                    final = await self._finished_status(tenant, task_id)
                    if final is not None:
                        yield self._final(task_id, final, last_seen)
                        return
                    yield task_pb2.TaskEvent(
                        sequence=last_seen, type=task_pb2.EVENT_TYPE_HEARTBEAT, time=_now(), task_id=task_id
                    )
                    continue
                lag.check_arrival(msg, last_seen)
                try:
                    ev = task_pb2.TaskEvent.FromString(msg.data)
                except Exception:
                    continue
                ev.sequence = int(msg.metadata.sequence.stream)
                last_seen = ev.sequence
                sent = time.monotonic()
                yield ev
                if ev.terminal:
                    return
                lag.check_write(time.monotonic() - sent, last_seen)
        finally:
            try:
                await sub.unsubscribe()
            except Exception:
                pass

    async def watch_tasks(
        self,
        tenant: str,
        from_seq: int,
        labels: dict[str, str],
        labels_of: Callable[[str], Awaitable[dict[str, str] | None]],
    ) -> AsyncIterator[task_pb2.TaskEvent]:
        """Every event of the tenant's tasks (carrying all of `labels`), from after `from_seq`
        (0: from now on), with heartbeats; never ends on its own."""
        if from_seq:
            start = from_seq + 1
        else:
            start = int((await self.js.stream_info(subjects.EVENTS_STREAM)).state.last_seq) + 1
        cache: dict[str, bool] = {}

        async def wanted(task_id: str) -> bool:
            if not labels:
                return True
            if task_id not in cache:
                if len(cache) > 10_000:
                    cache.clear()
                have = await labels_of(task_id) or {}
                cache[task_id] = all(have.get(k) == v for k, v in labels.items())
            return cache[task_id]

        sub = await self._subscribe(subjects.tenant_events(tenant), start)
        lag = Lag(sub)
        last_seen = start - 1
        beat = self.settings.watch_heartbeat
        quiet_since = time.monotonic()
        try:
            while True:
                wait = max(0.01, beat - (time.monotonic() - quiet_since))
                try:
                    msg = await sub.next_msg(timeout=wait)
                except (TimeoutError, NatsTimeout):
                    quiet_since = time.monotonic()
                    yield task_pb2.TaskEvent(sequence=last_seen, type=task_pb2.EVENT_TYPE_HEARTBEAT, time=_now())
                    continue
                lag.check_arrival(msg, last_seen)
                last_seen = int(msg.metadata.sequence.stream)
                try:
                    ev = task_pb2.TaskEvent.FromString(msg.data)
                except Exception:
                    continue
                if not await wanted(ev.task_id):
                    continue
                ev.sequence = last_seen
                quiet_since = time.monotonic()
                yield ev
                lag.check_write(time.monotonic() - quiet_since, last_seen)
        finally:
            try:
                await sub.unsubscribe()
            except Exception:
                pass
