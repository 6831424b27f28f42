"""TaskEvents: built from state changes, published to EVENTS with a Nats-Msg-Id.

The event id doubles as the Nats-Msg-Id, so a completion that is redone after a crash
(redelivery) does not put the same event in the stream twice (within the duplicate
window); receivers may also deduplicate on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from distill.v1 import task_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from distill_core import subjects
from distill_core.js_publish import confirmer


@dataclass(frozen=True, slots=True)
class OutMsg:
    """A message to publish to JetStream: subject, payload, optional dedup id.

    `confirm=False` publishes without waiting for JetStream's acknowledgement (the
    stream still stores it): for progress events that a later event supersedes, where
    an acknowledged round trip per message costs more than the message is worth.
    """

    subject: str
    data: bytes
    msg_id: str | None = None
    confirm: bool = True
    headers: Mapping[str, str] | None = None  # more NATS headers (a job's traceparent)


def _now() -> Timestamp:
    ns = time.time_ns()
    return Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)


def item_event(tenant_id: str, item: task_pb2.Item, event_id: str, *, confirm: bool = True) -> OutMsg:
    ev = task_pb2.TaskEvent(
        type=task_pb2.EVENT_TYPE_ITEM_UPDATED, time=_now(), task_id=item.task_id, item=item, event_id=event_id
    )
    return OutMsg(subjects.event_subject(tenant_id, item.task_id), ev.SerializeToString(), event_id, confirm)


def task_event(tenant_id: str, task: task_pb2.Task, event_id: str, *, terminal: bool = False) -> OutMsg:
    ev = task_pb2.TaskEvent(
        type=task_pb2.EVENT_TYPE_TASK_UPDATED,
        time=_now(),
        task_id=task.id,
        task=task,
        event_id=event_id,
        terminal=terminal,
    )
    return OutMsg(subjects.event_subject(tenant_id, task.id), ev.SerializeToString(), event_id)


async def publish_all(js: JetStreamContext, msgs: Sequence[OutMsg] | Iterable[OutMsg], timeout: float = 10.0) -> None:
    """Publish, pipelined; raise if any confirmed publish was not acknowledged by JetStream."""
    msgs = list(msgs)
    if not msgs:
        return
    nc = js._nc  # the connection the context publishes on
    confirmed = []
    for m in msgs:
        if m.confirm:
            confirmed.append((m.subject, m.data, _headers(m)))
        else:
            await nc.publish(m.subject, m.data, headers=_headers(m))
    errors = await confirmer(nc).publish(confirmed, timeout)
    if errors:
        raise errors[0]


def _headers(m: OutMsg) -> dict[str, str] | None:
    if m.headers:
        return {**m.headers, "Nats-Msg-Id": m.msg_id} if m.msg_id else dict(m.headers)
    return {"Nats-Msg-Id": m.msg_id} if m.msg_id else None
