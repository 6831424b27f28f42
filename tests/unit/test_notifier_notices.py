"""Which events reach which destination, what they carry, and what follows an attempt."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from distill.v1 import common_pb2, task_pb2
from distill_notifier.dispatcher import backoff, next_step
from distill_notifier.intake import Incoming, plan
from distill_notifier.notices import Destination, event_kind, push_payload, wants, webhook_body
from distill_notifier.queue import Claimed
from distill_notifier.settings import NotifierSettings
from distill_notifier.transport import Outcome, classify, retry_after

T = "7d7c2a0e-1111-4aaa-8bbb-000000000001"


def item_ev(status: int, eid: str = "e-item", **kw: object) -> task_pb2.TaskEvent:
    item = task_pb2.Item(id="i1", task_id=T, status=status, title="A title", input="https://example.com/a", **kw)
    return task_pb2.TaskEvent(type=task_pb2.EVENT_TYPE_ITEM_UPDATED, task_id=T, item=item, event_id=eid)


def task_ev(terminal: bool, eid: str = "e-task") -> task_pb2.TaskEvent:
    task = task_pb2.Task(id=T, status=task_pb2.TASK_STATUS_SUCCEEDED if terminal else task_pb2.TASK_STATUS_RUNNING)
    kind = task_pb2.EVENT_TYPE_TASK_UPDATED
    return task_pb2.TaskEvent(type=kind, task_id=T, task=task, event_id=eid, terminal=terminal)


def test_event_kinds() -> None:
    assert event_kind(item_ev(task_pb2.ITEM_STATUS_SUCCEEDED)) == "item.succeeded"
    assert event_kind(item_ev(task_pb2.ITEM_STATUS_FAILED)) == "item.failed"
    assert event_kind(item_ev(task_pb2.ITEM_STATUS_RUNNING)) == "item.updated"
    assert event_kind(task_ev(True)) == "task.finished"
    assert event_kind(task_ev(False)) == "task.updated"
    assert event_kind(task_pb2.TaskEvent(type=task_pb2.EVENT_TYPE_HEARTBEAT)) is None


def test_default_filter_gets_outcomes_only_and_all_gets_every_change() -> None:
    default, every = Destination("d", "webhook", "t"), Destination("a", "webhook", "t", filter="all")
    for kind in ("item.succeeded", "item.failed", "task.finished"):
        assert wants(default, kind, T, {}) and wants(every, kind, T, {})
    for kind in ("item.updated", "task.updated"):
        assert not wants(default, kind, T, {}) and wants(every, kind, T, {})
    assert not wants(every, None, T, {})


def test_task_and_label_filters() -> None:
    one = Destination("d", "push", "t", task_id=T)
    assert wants(one, "task.finished", T, {}) and not wants(one, "task.finished", "other", {})
    labelled = Destination("d", "push", "t", labels={"team": "news", "env": "prod"})
    assert wants(labelled, "item.failed", T, {"team": "news", "env": "prod", "x": "y"})
    assert not wants(labelled, "item.failed", T, {"team": "news"})
    assert not wants(labelled, "item.failed", T, {"team": "food", "env": "prod"})
    assert not wants(labelled, "item.failed", T, None)


def test_plan_records_one_delivery_per_matching_destination_and_event() -> None:
    hook, push = str(uuid.uuid4()), str(uuid.uuid4())
    dests = [Destination(hook, "webhook", "ten", filter="all"), Destination(push, "push", "ten")]
    events = [
        Incoming("ten", 5, item_ev(task_pb2.ITEM_STATUS_RUNNING, "e1")),
        Incoming("ten", 6, item_ev(task_pb2.ITEM_STATUS_SUCCEEDED, "e2")),
        Incoming("other", 7, task_ev(True, "e3")),
    ]
    rows = plan(events, dests, {})
    assert [(r["kind"], r["event_id"]) for r in rows] == [("webhook", "e1"), ("webhook", "e2"), ("push", "e2")]
    body = json.loads(rows[1]["body"])
    assert body["id"] == "e2" and body["type"] == "item.succeeded" and body["tenant_id"] == "ten"
    assert body["sequence"] == 6 and body["data"]["item"]["status"] == "ITEM_STATUS_SUCCEEDED"
    assert json.loads(rows[2]["body"])["title"] == "A title"


def test_push_payload_stays_small_whatever_the_item_carries() -> None:
    err = common_pb2.ErrorInfo(code="HTTP_NOT_FOUND", message="x" * 10_000)
    ev = item_ev(task_pb2.ITEM_STATUS_FAILED, error=err)
    ev.item.title = "t" * 10_000
    ev.item.input = "https://example.com/" + "p" * 10_000
    doc = push_payload(ev, "ten", 1)
    assert len(doc.encode()) <= 3000
    parsed = json.loads(doc)
    assert parsed["error"]["code"] == "HTTP_NOT_FOUND" and parsed["status"] == "ITEM_STATUS_FAILED"
    assert json.loads(webhook_body(ev, "ten", 1))["data"]["item"]["title"] == "t" * 10_000


def test_classify_responses() -> None:
    h = httpx.Headers({"retry-after": "7"})
    assert classify(201, h, push=True).ok and classify(204, h, push=False).ok
    assert classify(410, h, push=True).gone and classify(404, h, push=True).gone
    assert not classify(404, h, push=False).gone and not classify(404, h, push=False).retry
    r = classify(429, h, push=True)
    assert r.rate_limited and r.retry and r.retry_after == 7
    assert classify(503, h, push=False).retry and classify(503, h, push=False).retry_after == 7
    assert not classify(400, h, push=False).retry and not classify(302, h, push=False).retry
    assert "redirect" in classify(302, h, push=False).error
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert retry_after("soon") is None and retry_after("") is None


def claimed(attempts: int, age: float = 0.0) -> Claimed:
    created = datetime.now(UTC) - timedelta(seconds=age)
    return Claimed(uuid.uuid4(), "t", "webhook", uuid.uuid4(), "e", "item.failed", "{}", attempts, created)


def test_next_step_retries_then_gives_up_and_honours_retry_after() -> None:
    s = NotifierSettings(notifier_max_attempts=3, notifier_backoff=[1, 10], notifier_backoff_jitter=0)
    now = datetime.now(UTC)
    fail = Outcome(False, 500, "boom", retry=True)
    assert next_step(s, claimed(1), fail, now) == ("retry", 1.0)
    assert next_step(s, claimed(2), fail, now) == ("retry", 10.0)
    assert next_step(s, claimed(3), fail, now) == ("fail", 0.0)
    assert next_step(s, claimed(1), Outcome(False, 503, "x", retry=True, retry_after=30), now) == ("retry", 30.0)
    limited = Outcome(False, 429, "slow", retry=True, retry_after=5, rate_limited=True)
    assert next_step(s, claimed(3), limited, now) == ("hold", 5.0)  # 429 uses no attempt
    assert next_step(s, claimed(1), Outcome(False, 400, "no"), now) == ("fail", 0.0)
    assert next_step(s, claimed(1), Outcome(False, 410, "gone", gone=True), now) == ("gone", 0.0)
    assert next_step(s, claimed(1, age=2 * 86400), fail, now) == ("fail", 0.0)


def test_backoff_jitter_stays_in_bounds() -> None:
    s = NotifierSettings(notifier_backoff=[10], notifier_backoff_jitter=0.2)
    rng = random.Random(1)
    assert all(8 <= backoff(s, n, rng) <= 12 for n in range(1, 50))
