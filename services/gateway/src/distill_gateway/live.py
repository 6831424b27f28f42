"""The live event feed of one gateway: one subscription per tenant, fanned out to watchers.

JetStream republishes every event it stores on EVENTS to `distill.live.<tenant>.<task>`
with its stream sequence (`Nats-Sequence`) and the previous sequence of the same subject
(`Nats-Last-Sequence`). The hub subscribes once per tenant that has watchers (never
across tenants), decodes each event once and hands it to every interested watcher's
bounded queue. Cost per event is one decode plus one queue put per watcher, instead of a
JetStream consumer per watcher.

A watcher whose queue is full is marked overflowed (it is dropped by its stream with
RESOURCE_EXHAUSTED and the sequence to resume from); one that notices a gap in a task's
`Nats-Last-Sequence` chain (a republished message lost) is treated the same way, so a
resume through JetStream fills it: nothing is ever silently missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from distill.v1 import task_pb2
from distill_core import subjects
from distill_core.logging import get_logger
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

log = get_logger(__name__)

QUEUE_EVENTS = 2000


@dataclass(eq=False)
class Listener:
    """One watcher's view of the feed: events of its tenant (and task, when given)."""

    tenant: str
    task_id: str | None
    queue: asyncio.Queue[tuple[int, int, task_pb2.TaskEvent]] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_EVENTS)
    )
    overflowed: bool = False

    def offer(self, seq: int, last: int, ev: task_pb2.TaskEvent) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait((seq, last, ev))
        except asyncio.QueueFull:
            self.overflowed = True


class LiveHub:
    def __init__(self, nc: NATS) -> None:
        self.nc = nc
        self._listeners: dict[str, set[Listener]] = {}
        self._subs: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    async def register(self, tenant: str, task_id: str | None = None) -> Listener:
        """A listener that receives every event stored after this call returns."""
        listener = Listener(tenant, task_id)
        async with self._lock:
            self._listeners.setdefault(tenant, set()).add(listener)
            if tenant not in self._subs:
                self._subs[tenant] = await self.nc.subscribe(
                    f"{subjects.LIVE_PREFIX}.{tenant}.*",
                    cb=self._on_msg,
                    pending_msgs_limit=200_000,
                    pending_bytes_limit=256 * 1024 * 1024,
                )
                await self.nc.flush()  # the server has the subscription before we read any sequence
        return listener

    async def unregister(self, listener: Listener) -> None:
        async with self._lock:
            group = self._listeners.get(listener.tenant)
            if group is None:
                return
            group.discard(listener)
            if not group:
                del self._listeners[listener.tenant]
                sub = self._subs.pop(listener.tenant, None)
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()

    async def _on_msg(self, msg: Msg) -> None:
        tokens = msg.subject.split(".")
        if len(tokens) != 4:
            return
        tenant, task_id = tokens[2], tokens[3]
        group = self._listeners.get(tenant)
        if not group:
            return
        headers = msg.headers or {}
        try:
            seq = int(headers.get("Nats-Sequence", 0))
            last = int(headers.get("Nats-Last-Sequence", 0))
            ev = task_pb2.TaskEvent.FromString(msg.data)
        except Exception:
            return
        ev.sequence = seq
        for listener in list(group):
            if listener.task_id is None or listener.task_id == task_id:
                listener.offer(seq, last, ev)

    async def close(self) -> None:
        async with self._lock:
            for sub in self._subs.values():
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
            self._subs.clear()
            self._listeners.clear()
