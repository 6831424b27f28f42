"""What a destination receives for an event: which events match, and the payloads (pure functions).

Kinds of notification (the `type` field of every payload):
  item.succeeded, item.failed, task.finished      the default set (EVENT_FILTER_DEFAULT)
  item.updated, task.updated                      every other phase or status change (EVENT_FILTER_ALL)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from distill.v1 import task_pb2
from google.protobuf import json_format

DEFAULT_KINDS = frozenset({"item.succeeded", "item.failed", "task.finished"})
ALL_KINDS = DEFAULT_KINDS | {"item.updated", "task.updated"}
FILTERS = ("default", "all")

# Push services take at most 4 kB of encrypted payload; stay well below it.
MAX_PUSH_PAYLOAD = 3000


@dataclass(frozen=True, slots=True)
class Destination:
    """A webhook or a push subscription, as far as matching needs it."""

    id: str
    kind: str  # "webhook" | "push"
    tenant_id: str
    filter: str = "default"
    task_id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


def event_kind(ev: task_pb2.TaskEvent) -> str | None:
    """The notification kind of an event (None for snapshots and heartbeats, which are never sent)."""
    if ev.type == task_pb2.EVENT_TYPE_TASK_UPDATED:
        return "task.finished" if ev.terminal else "task.updated"
    if ev.type == task_pb2.EVENT_TYPE_ITEM_UPDATED:
        if ev.item.status == task_pb2.ITEM_STATUS_SUCCEEDED:
            return "item.succeeded"
        if ev.item.status == task_pb2.ITEM_STATUS_FAILED:
            return "item.failed"
        return "item.updated"
    return None


def wants(dest: Destination, kind: str | None, task_id: str, task_labels: Mapping[str, Any] | None) -> bool:
    """True when `dest` should get a `kind` notification about task `task_id` (with `task_labels`)."""
    if kind is None:
        return False
    if kind not in (ALL_KINDS if dest.filter == "all" else DEFAULT_KINDS):
        return False
    if dest.task_id and dest.task_id != task_id:
        return False
    if dest.labels:
        have = task_labels or {}
        return all(k in have and str(have[k]) == str(v) for k, v in dest.labels.items())
    return True


def _time(ev: task_pb2.TaskEvent) -> str:
    return ev.time.ToJsonString() if ev.HasField("time") else ""


def webhook_body(ev: task_pb2.TaskEvent, tenant_id: str, sequence: int) -> str:
    """The JSON body POSTed to a webhook: an envelope and the whole TaskEvent under `data`."""
    data = json_format.MessageToDict(ev, preserving_proto_field_name=True)
    data["sequence"] = str(sequence)
    doc = {
        "id": ev.event_id,
        "type": event_kind(ev),
        "timestamp": _time(ev),
        "tenant_id": tenant_id,
        "task_id": ev.task_id,
        "sequence": sequence,
        "data": data,
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def push_payload(ev: task_pb2.TaskEvent, tenant_id: str, sequence: int) -> str:
    """The small JSON a browser's service worker receives (fits a push message whatever the event)."""
    doc: dict[str, Any] = {
        "id": ev.event_id,
        "type": event_kind(ev),
        "timestamp": _time(ev),
        "task_id": ev.task_id,
        "sequence": sequence,
    }
    if ev.HasField("task"):
        t = ev.task
        doc["status"] = task_pb2.TaskStatus.Name(t.status)
        doc["counts"] = {
            "total": t.counts.total,
            "succeeded": t.counts.succeeded,
            "failed": t.counts.failed,
            "cancelled": t.counts.cancelled,
        }
        doc["progress"] = t.progress
    if ev.HasField("item"):
        it = ev.item
        doc["item_id"] = it.id
        doc["status"] = task_pb2.ItemStatus.Name(it.status)
        doc["title"] = _cut(it.title, 300)
        doc["input"] = _cut(it.input, 500)
        if it.phases:
            p = it.phases[-1]
            doc["phase"] = {"stage": p.stage, "status": task_pb2.PhaseStatus.Name(p.status), "attempts": p.attempts}
        if it.HasField("error") and it.error.code:
            doc["error"] = {"code": it.error.code, "message": _cut(it.error.message, 300)}
        if it.HasField("export") and it.export.url:
            doc["url"] = _cut(it.export.url, 500)
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    if len(body.encode()) > MAX_PUSH_PAYLOAD:  # only reachable with very long ids: keep what identifies it
        keep = {k: doc[k] for k in ("id", "type", "timestamp", "task_id", "sequence", "item_id", "status") if k in doc}
        body = json.dumps(keep, separators=(",", ":"), ensure_ascii=False)
    return body
