"""The notifier against real NATS JetStream and PostgreSQL: destinations are made through the
real Notifications gRPC service, events are published to EVENTS, and what arrives is checked
by a webhook receiver that verifies signatures and a push service that decrypts payloads."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from distill.v1 import notifications_pb2 as npb
from distill.v1 import notifications_pb2_grpc, task_pb2
from distill_cli.vapid import generate
from distill_core import nats as dnats
from distill_core.db.session import make_engine
from distill_core.events import item_event, publish_all, task_event
from distill_core.grpc_server import GrpcServer
from distill_core.settings import GatewaySettings
from distill_gateway.notifications import NotificationSettings, NotificationsServicer
from distill_notifier.app import serve
from distill_notifier.settings import NotifierSettings
from sqlalchemy import text

from tests.fakes.push_service import PushService
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers import make_task, make_tenant, wait_for

pytestmark = pytest.mark.integration

MAX_ATTEMPTS = 6
KEYS = generate("mailto:ops@example.com")


class World:
    def __init__(self, js: Any, engine: Any, stub: Any, push: PushService) -> None:
        self.js, self.engine, self.stub, self.push = js, engine, stub, push

    async def tenant(self) -> tuple[str, list[tuple[str, str]]]:
        tenant, key = await make_tenant(self.engine)
        return tenant, [("authorization", f"Bearer {key}")]

    async def webhook(self, auth: Any, rx: WebhookReceiver, **kw: Any) -> npb.Webhook:
        hook = await self.stub.CreateWebhook(npb.CreateWebhookRequest(url=rx.url, **kw), metadata=auth)
        rx.secret = hook.secret
        return hook

    async def deliveries(self, destination_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT * FROM deliveries WHERE destination_id = :d ORDER BY created_at"),
                {"d": uuid.UUID(destination_id)},
            )
            return [dict(r._mapping) for r in rows]


@pytest.fixture(scope="module")
async def world(nats_url: str, database_url: str) -> AsyncIterator[World]:
    settings = NotifierSettings(
        nats_url=nats_url,
        database_url=database_url,
        notifier_allow_private_networks=True,
        notifier_backoff=[0.05, 0.1, 0.2, 0.3],
        notifier_backoff_jitter=0,
        notifier_max_attempts=MAX_ATTEMPTS,
        notifier_timeout=2.0,
        notifier_poll_interval=0.2,
        vapid_private_key=KEYS["DISTILL_VAPID_PRIVATE_KEY"],
        vapid_subject="mailto:ops@example.com",
    )
    nc = await dnats.connect(settings, "test")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, settings, stages=())
    engine = make_engine(database_url, pool_size=4)
    options = NotificationSettings(
        vapid_public_key=KEYS["DISTILL_VAPID_PUBLIC_KEY"], notifier_allow_private_networks=True
    )
    servicer = NotificationsServicer(GatewaySettings(database_url=database_url), engine, options)
    name = npb.DESCRIPTOR.services_by_name["Notifications"].full_name
    server = GrpcServer(
        "127.0.0.1", 0, services=[(notifications_pb2_grpc.add_NotificationsServicer_to_server, servicer, name)]
    )
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    push = PushService(KEYS["DISTILL_VAPID_PUBLIC_KEY"])
    stop = asyncio.Event()
    notifier = asyncio.create_task(serve(settings, stop))
    try:
        yield World(js, engine, notifications_pb2_grpc.NotificationsStub(channel), push)
    finally:
        stop.set()
        await asyncio.wait_for(notifier, 20)
        await channel.close()
        await server.stop(0)
        push.close()
        await engine.dispose()
        await nc.close()


def item(task_id: str, status: int, title: str = "A page") -> task_pb2.Item:
    return task_pb2.Item(
        id=str(uuid.uuid4()), task_id=task_id, status=status, title=title, input="https://example.com/"
    )


async def publish_story(js: Any, tenant: str, task_id: str) -> dict[str, str]:
    """A small task's life: queued, an item running, an item done, the task done. Returns event id -> kind."""
    running = item(task_id, task_pb2.ITEM_STATUS_RUNNING)
    done = item(task_id, task_pb2.ITEM_STATUS_SUCCEEDED, "Lemon Ricotta Pancakes — ✓")
    failed = item(task_id, task_pb2.ITEM_STATUS_FAILED)
    msgs = {
        f"{task_id}:queued": ("task.updated", task_event(tenant, task_pb2.Task(id=task_id), f"{task_id}:queued")),
        f"{task_id}:i1": ("item.updated", item_event(tenant, running, f"{task_id}:i1")),
        f"{task_id}:i2": ("item.succeeded", item_event(tenant, done, f"{task_id}:i2")),
        f"{task_id}:i3": ("item.failed", item_event(tenant, failed, f"{task_id}:i3")),
        f"{task_id}:done": (
            "task.finished",
            task_event(
                tenant,
                task_pb2.Task(id=task_id, status=task_pb2.TASK_STATUS_PARTIALLY_FAILED),
                f"{task_id}:done",
                terminal=True,
            ),
        ),
    }
    for _, m in msgs.values():  # one at a time: the stream order is the story's order
        await publish_all(js, [m])
    return {k: kind for k, (kind, _) in msgs.items()}


async def test_webhooks_get_signed_events_by_filter(world: World) -> None:
    tenant, auth = await world.tenant()
    default_rx, all_rx = WebhookReceiver(), WebhookReceiver()
    await world.webhook(auth, default_rx)
    await world.webhook(auth, all_rx, filter=npb.EVENT_FILTER_ALL)
    task_id = str(uuid.uuid4())
    _, other_auth = await world.tenant()
    stranger = WebhookReceiver()
    await world.webhook(other_auth, stranger, filter=npb.EVENT_FILTER_ALL)

    kinds = await publish_story(world.js, tenant, task_id)

    await wait_for(lambda: _n(all_rx, 5), 20, "every event at the ALL webhook")
    await wait_for(lambda: _n(default_rx, 3), 20, "the default events at the default webhook")
    await asyncio.sleep(0.5)  # nothing else arrives
    # Deliveries to one destination run side by side: order is not kept (`sequence` tells it).
    assert sorted(e["type"] for e in default_rx.events()) == ["item.failed", "item.succeeded", "task.finished"]
    assert {e["id"]: e["type"] for e in all_rx.events()} == kinds
    assert default_rx.count() == 3 and all_rx.count() == 5, "an event was delivered twice"
    assert not default_rx.rejected and not all_rx.rejected
    done = next(e for e in default_rx.events() if e["type"] == "item.succeeded")
    assert done["tenant_id"] == tenant and done["task_id"] == task_id and done["sequence"] > 0
    assert done["data"]["item"]["title"] == "Lemon Ricotta Pancakes — ✓"
    assert stranger.count() == 0, "another tenant's webhook got this tenant's events"
    for rx in (default_rx, all_rx, stranger):
        rx.close()


async def test_task_and_label_filters_narrow_what_arrives(world: World) -> None:
    tenant, auth = await world.tenant()
    task_a, _ = await make_task(world.engine, tenant, ["https://example.com/a"])
    async with world.engine.begin() as conn:
        await conn.execute(text('UPDATE tasks SET labels = \'{"team": "news"}\' WHERE id = :id'), {"id": task_a})
    task_b, _ = await make_task(world.engine, tenant, ["https://example.com/b"])
    one_task, labelled = WebhookReceiver(), WebhookReceiver()
    await world.webhook(auth, one_task, task_id=str(task_b))
    await world.webhook(auth, labelled, labels={"team": "news"})
    await publish_story(world.js, tenant, str(task_a))
    await publish_story(world.js, tenant, str(task_b))
    await wait_for(lambda: _n(one_task, 3), 20, "task B's events")
    await wait_for(lambda: _n(labelled, 3), 20, "the labelled task's events")
    await asyncio.sleep(0.5)
    assert {e["task_id"] for e in one_task.events()} == {str(task_b)} and one_task.count() == 3
    assert {e["task_id"] for e in labelled.events()} == {str(task_a)} and labelled.count() == 3
    one_task.close()
    labelled.close()


async def test_a_receiver_failing_five_times_gets_every_event_once(world: World) -> None:
    tenant, auth = await world.tenant()
    rx = WebhookReceiver()
    rx.fail_next(5)
    hook = await world.webhook(auth, rx, filter=npb.EVENT_FILTER_ALL)
    task_id = str(uuid.uuid4())
    kinds = await publish_story(world.js, tenant, task_id)
    # The same event again under another stream message (a publisher that retried past the
    # duplicate window): recorded once, delivered once.
    again = item(task_id, task_pb2.ITEM_STATUS_SUCCEEDED)
    dup = item_event(tenant, again, f"{task_id}:i2")
    await world.js.publish(dup.subject, dup.data)

    await wait_for(lambda: _n(rx, 5), 30, "every event after the receiver recovered")
    await asyncio.sleep(0.5)
    assert {e["id"] for e in rx.events()} == set(kinds)
    assert rx.count() == 5, f"delivered {rx.count()} times for 5 events"
    rows = await world.deliveries(hook.id)
    assert len(rows) == 5 and {r["status"] for r in rows} == {"delivered"}
    assert sum(r["attempts"] for r in rows) == 5 + 5  # one success each, five failures spread among them
    rx.close()


async def test_a_dead_receiver_does_not_delay_another(world: World) -> None:
    tenant, auth = await world.tenant()
    dead, alive = WebhookReceiver(), WebhookReceiver()
    dead.hang = True  # holds every request until the notifier's 2 s timeout
    await world.webhook(auth, dead, filter=npb.EVENT_FILTER_ALL)
    await world.webhook(auth, alive, filter=npb.EVENT_FILTER_ALL)
    task_id = str(uuid.uuid4())
    t0 = time.monotonic()
    sent = []
    for n in range(40):
        m = item_event(tenant, item(task_id, task_pb2.ITEM_STATUS_SUCCEEDED), f"{task_id}:{n}")
        sent.append(m)
    await publish_all(world.js, sent)
    await wait_for(lambda: _n(alive, 40), 20, "all 40 events at the healthy receiver")
    took = time.monotonic() - t0
    print(f"\n40 events reached the healthy webhook in {took * 1000:.0f} ms while the other hung")
    assert took < 2.5, f"the healthy receiver waited {took:.1f} s behind the dead one"
    assert len(dead.arrivals) <= 4 * 3, "more requests in flight to one destination than its limit"
    dead.close()
    alive.close()


async def test_a_receiver_that_never_recovers_is_given_up_and_recorded(world: World) -> None:
    tenant, auth = await world.tenant()
    rx = WebhookReceiver()
    rx.fail_next(10_000)
    hook = await world.webhook(auth, rx)
    task_id = str(uuid.uuid4())
    await publish_all(world.js, [item_event(tenant, item(task_id, task_pb2.ITEM_STATUS_FAILED), f"{task_id}:x")])

    async def given_up() -> bool:
        rows = await world.deliveries(hook.id)
        return bool(rows) and rows[0]["status"] == "failed"

    await wait_for(given_up, 30, "the delivery to be given up")
    (row,) = await world.deliveries(hook.id)
    assert row["attempts"] == MAX_ATTEMPTS and len(rx.arrivals) == MAX_ATTEMPTS
    assert f"gave up after {MAX_ATTEMPTS} attempts" in row["last_error"] and "HTTP 500" in row["last_error"]
    assert "s3cr3t" not in row["last_error"] and "whsec_" not in row["last_error"]
    rx.close()


async def test_push_payloads_arrive_intact(world: World) -> None:
    tenant, auth = await world.tenant()
    sub = world.push.subscribe()
    made = await world.stub.CreatePushSubscription(npb.CreatePushSubscriptionRequest(**sub), metadata=auth)
    assert made.id and made.endpoint == sub["endpoint"] and made.filter == npb.EVENT_FILTER_DEFAULT
    task_id = str(uuid.uuid4())
    kinds = await publish_story(world.js, tenant, task_id)
    await wait_for(lambda: _len(world.push.messages(sub), 3), 20, "three push messages")
    await asyncio.sleep(0.3)
    got = world.push.messages(sub)
    assert not world.push.rejected, world.push.rejected
    by_type = {m["type"]: m for m in got}
    assert sorted(by_type) == ["item.failed", "item.succeeded", "task.finished"]
    assert all(m["task_id"] == task_id and kinds[m["id"]] == m["type"] for m in got)
    done = by_type["item.succeeded"]
    assert done["title"] == "Lemon Ricotta Pancakes — ✓" and done["status"] == "ITEM_STATUS_SUCCEEDED"
    assert by_type["task.finished"]["status"] == "TASK_STATUS_PARTIALLY_FAILED"


async def test_gone_subscriptions_are_pruned(world: World) -> None:
    tenant, auth = await world.tenant()
    gone410, gone404, fine = world.push.subscribe(), world.push.subscribe(), world.push.subscribe()
    ids = {}
    for sub in (gone410, gone404, fine):
        made = await world.stub.CreatePushSubscription(npb.CreatePushSubscriptionRequest(**sub), metadata=auth)
        ids[sub["endpoint"]] = made.id
    world.push.gone(gone410, 410)
    world.push.gone(gone404, 404)
    task_id = str(uuid.uuid4())
    await publish_story(world.js, tenant, task_id)
    await wait_for(lambda: _len(world.push.messages(fine), 3), 20, "the live subscription's messages")

    async def pruned() -> bool:
        async with world.engine.connect() as conn:
            left = await conn.execute(text("SELECT id FROM push_subscriptions WHERE tenant_id = :t"), {"t": tenant})
            return {str(r.id) for r in left} == {ids[fine["endpoint"]]}

    await wait_for(pruned, 20, "the dead subscriptions to be deleted")
    await asyncio.sleep(0.5)
    # Three events, each tried once side by side; none retried once the push service said gone.
    assert len(world.push.requests(gone410)) <= 3 and len(world.push.requests(gone404)) <= 3
    rows = await world.deliveries(ids[gone410["endpoint"]])
    assert {r["status"] for r in rows} == {"failed"} and "gone (HTTP 410)" in rows[0]["last_error"]


async def test_429_waits_as_long_as_retry_after_says(world: World) -> None:
    tenant, auth = await world.tenant()
    sub = world.push.subscribe()
    made = await world.stub.CreatePushSubscription(npb.CreatePushSubscriptionRequest(**sub), metadata=auth)
    world.push.answer(sub, 429, times=2, retry_after=1)
    task_id = str(uuid.uuid4())
    await publish_all(world.js, [item_event(tenant, item(task_id, task_pb2.ITEM_STATUS_SUCCEEDED), f"{task_id}:s")])
    await wait_for(lambda: _len(world.push.messages(sub), 1), 20, "the message after the rate limit")
    times = world.push.requests(sub)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 3 and all(g >= 0.95 for g in gaps), f"retried after {gaps} s, Retry-After was 1 s"
    (row,) = await world.deliveries(made.id)
    assert row["status"] == "delivered" and row["attempts"] == 1  # waits for Retry-After use no attempt


async def _n(rx: WebhookReceiver, n: int) -> bool:
    return len(rx.events()) >= n


async def _len(xs: list[Any], n: int) -> bool:
    return len(xs) >= n
