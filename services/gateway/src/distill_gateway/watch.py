"""WatchTask and WatchTasks: a snapshot or a replay from JetStream, then the live feed.

A watch first registers with the gateway's live hub (live.py: one subscription per
tenant, fanned out to every watcher), then notes the EVENTS stream's last sequence L.
Everything stored after L reaches the watcher live; everything up to L is covered by the
snapshot (WatchTask from the start) or replayed from JetStream (`from_sequence`). Live
events at or below what is covered are skipped, so nothing is missed or repeated.

Every event carries its stream sequence, and a heartbeat carries the last sequence the
watch has covered, so `from_sequence` resumes right after it. A watcher that cannot keep
up (its bounded queue filled) or whose live feed lost a message (a gap in a task's
`Nats-Last-Sequence` chain) is dropped with RESOURCE_EXHAUSTED naming the from_sequence
to resume from; the client library resumes by itself.

WatchTasks follows only the caller's tenant and never ends on its own; a label filter
looks each task's labels up once (they never change).
"""

from __future__ import annotations

import asyncio
import contextlib
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
from distill_gateway.live import QUEUE_EVENTS, Listener, LiveHub

TERMINAL = {TASK_STATUS[s] for s in ("succeeded", "partially_failed", "failed", "cancelled")}
REPLAY_BUFFER = 10_000


def fell_behind(why: str, covered: int) -> ResourceExhausted:
    return ResourceExhausted(f"this watch {why}; reconnect with from_sequence={covered} to resume with nothing missed")


def _now() -> Timestamp:
    t = Timestamp()
    t.GetCurrentTime()
    return t


class Coverage:
    """Which stream sequences a watch has delivered or covered, per task subject."""

    def __init__(self, upto: int) -> None:
        self.upto = upto  # everything at or below was covered (snapshot, replay or delivered)
        self.per_task: dict[str, int] = {}

    def take(self, task_id: str, seq: int, last: int) -> bool:
        """True when the event is new; raises when one before it was lost."""
        covered = max(self.upto, self.per_task.get(task_id, 0))
        if seq <= covered:
            return False  # already covered: replayed, or reflected in the snapshot
        if last > covered:
            raise fell_behind(f"missed event {last} of task {task_id} in its live feed", self.upto)
        self.per_task[task_id] = seq
        self.upto = max(self.upto, seq)
        return True


class Watcher:
    def __init__(self, settings: GatewaySettings, engine: AsyncEngine, js: JetStreamContext) -> None:
        self.settings = settings
        self.engine = engine
        self.js = js
        self.hub = LiveHub(js._nc)  # the gateway's one connection

    async def _finished_status(self, tenant: str, task_id: str) -> task_pb2.Task | None:
        """The task, when it is in a terminal status; else None."""
        from distill_core import convert

        async with self.engine.connect() as conn:
            row = await repo.get_task(conn, tenant, uuid.UUID(task_id))
            if row is None or row["status"] not in ("succeeded", "partially_failed", "failed", "cancelled"):
                return None
            counts = (await repo.counts(conn, [row["id"]])).get(row["id"])
        return convert.task_to_proto(row, counts)

    async def _stream_last(self) -> int:
        return int((await self.js.stream_info(subjects.EVENTS_STREAM)).state.last_seq)

    async def _subject_last(self, subject: str) -> int:
        try:
            return int((await self.js.get_last_msg(subjects.EVENTS_STREAM, subject)).seq or 0)
        except JsNotFound:
            return 0

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

    async def _replay(self, subject: str, start: int, end: int) -> AsyncIterator[task_pb2.TaskEvent]:
        """Stored events of `subject` with sequences in [start, end], oldest first."""
        if start > end:
            return
        sub = await self.js.subscribe(
            subject,
            stream=subjects.EVENTS_STREAM,
            ordered_consumer=True,
            config=jsapi.ConsumerConfig(
                deliver_policy=jsapi.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start, inactive_threshold=30.0
            ),
            pending_msgs_limit=REPLAY_BUFFER,
        )
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=5.0)
                except (TimeoutError, NatsTimeout):
                    return  # nothing more stored for this filter
                seq = int(msg.metadata.sequence.stream)
                if seq > end:
                    return
                with contextlib.suppress(Exception):
                    ev = task_pb2.TaskEvent.FromString(msg.data)
                    ev.sequence = seq
                    yield ev
                if seq >= end or int(msg.metadata.num_pending or 0) == 0:
                    return
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _live(
        self,
        listener: Listener,
        cov: Coverage,
        on_idle: Callable[[], Awaitable[task_pb2.TaskEvent | None]],
        wanted: Callable[[str], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[task_pb2.TaskEvent]:
        """Live events past the coverage (those `wanted`); after a heartbeat interval with
        nothing sent, `on_idle()` may end the watch (its event is yielded last) or return
        None for a heartbeat."""
        beat = self.settings.watch_heartbeat
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while True:
            if listener.overflowed:
                raise fell_behind(
                    f"fell more than {QUEUE_EVENTS} events behind (the client reads slower than events arrive)",
                    cov.upto,
                )
            wait = max(0.01, beat - (loop.time() - quiet_since))
            try:
                if listener.queue.empty():
                    seq, last, ev = await asyncio.wait_for(listener.queue.get(), wait)
                else:  # the common case under load: no timer, no task
                    seq, last, ev = listener.queue.get_nowait()
            except TimeoutError:
                quiet_since = loop.time()
                final = await on_idle()
                if final is not None:
                    yield final
                    return
                yield task_pb2.TaskEvent(
                    sequence=cov.upto, type=task_pb2.EVENT_TYPE_HEARTBEAT, time=_now(), task_id=listener.task_id or ""
                )
                continue
            if cov.take(ev.task_id, seq, last) and (wanted is None or await wanted(ev.task_id)):
                quiet_since = loop.time()
                yield ev

    async def watch_task(
        self, tenant: str, task_id: str, from_seq: int, snapshot: Callable[[], Awaitable[task_pb2.Task]]
    ) -> AsyncIterator[task_pb2.TaskEvent]:
        subject = subjects.event_subject(tenant, task_id)
        listener = await self.hub.register(tenant, task_id)
        try:
            stored = await self._stream_last()  # later events reach the listener live
            if from_seq == 0:
                task = await snapshot()
                done = task.status in TERMINAL
                yield task_pb2.TaskEvent(
                    sequence=stored,
                    type=task_pb2.EVENT_TYPE_SNAPSHOT,
                    time=_now(),
                    task_id=task_id,
                    task=task,
                    event_id=f"{task_id}:snapshot:{stored}",
                    terminal=done,
                )
                if done:
                    return
                cov = Coverage(stored)
            else:
                cov = Coverage(from_seq)
                async for ev in self._replay(subject, from_seq + 1, stored):
                    if cov.take(task_id, ev.sequence, 0):
                        yield ev
                        if ev.terminal:
                            return
                cov.upto = max(cov.upto, stored)
                final = await self._finished_status(tenant, task_id)
                if final is not None and await self._subject_last(subject) <= cov.upto:
                    yield self._final(task_id, final, cov.upto)
                    return

            async def idle() -> task_pb2.TaskEvent | None:
                final = await self._finished_status(tenant, task_id)
                return self._final(task_id, final, cov.upto) if final is not None else None

            async for ev in self._live(listener, cov, idle):
                yield ev
                if ev.terminal:
                    return
        finally:
            await self.hub.unregister(listener)

    async def watch_tasks(
        self,
        tenant: str,
        from_seq: int,
        labels: dict[str, str],
        labels_of: Callable[[str], Awaitable[dict[str, str] | None]],
    ) -> AsyncIterator[task_pb2.TaskEvent]:
        """Every event of the tenant's tasks (carrying all of `labels`), from after `from_seq`
        (0: from now on), with heartbeats; never ends on its own."""
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

        listener = await self.hub.register(tenant, None)
        try:
            stored = await self._stream_last()
            cov = Coverage(from_seq or stored)
            if from_seq:
                async for ev in self._replay(subjects.tenant_events(tenant), from_seq + 1, stored):
                    cov.upto = max(cov.upto, ev.sequence)
                    cov.per_task[ev.task_id] = ev.sequence
                    if await wanted(ev.task_id):
                        yield ev
                cov.upto = max(cov.upto, stored)

            async def idle() -> Any:
                return None

            async for ev in self._live(listener, cov, idle, wanted):
                yield ev
        finally:
            await self.hub.unregister(listener)
