"""WatchTask: a snapshot, then the task's events from JetStream, heartbeats while idle.

The snapshot is read after noting the EVENTS stream's last sequence, and events are
replayed from just after it, so nothing between the two is missed (an event already
reflected in the snapshot may arrive again; applying it twice changes nothing).
`from_sequence` resumes after a given event with nothing missed or repeated.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from distill.v1 import task_pb2
from distill_core import subjects
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

    async def _follow(self, tenant: str, task_id: str, subject: str, start: int) -> AsyncIterator[task_pb2.TaskEvent]:
        sub = await self.js.subscribe(
            subject,
            stream=subjects.EVENTS_STREAM,
            ordered_consumer=True,
            config=jsapi.ConsumerConfig(
                deliver_policy=jsapi.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start, inactive_threshold=30.0
            ),
            pending_msgs_limit=10_000,
        )
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
                try:
                    ev = task_pb2.TaskEvent.FromString(msg.data)
                except Exception:
                    continue
                ev.sequence = int(msg.metadata.sequence.stream)
                last_seen = ev.sequence
                yield ev
                if ev.terminal:
                    return
        finally:
            try:
                await sub.unsubscribe()
            except Exception:
                pass
