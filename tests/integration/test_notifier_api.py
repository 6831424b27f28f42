"""The Notifications gRPC service against real PostgreSQL: per tenant, validated, secrets shown once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import grpc
import pytest
from distill.v1 import notifications_pb2 as npb
from distill.v1 import notifications_pb2_grpc
from distill_cli.vapid import generate
from distill_core.db.session import make_engine
from distill_core.grpc_server import GrpcServer
from distill_core.settings import GatewaySettings
from distill_gateway.notifications import NotificationSettings, NotificationsServicer
from sqlalchemy import text

from tests.fakes.push_service import PushService
from tests.helpers import make_task, make_tenant

pytestmark = pytest.mark.integration

KEYS = generate()
SERVICE = npb.DESCRIPTOR.services_by_name["Notifications"].full_name


@pytest.fixture(scope="module")
async def api(database_url: str) -> AsyncIterator[Callable[..., Any]]:
    """api(vapid=True, private=True) -> (stub, engine): a Notifications server configured so."""
    engine = make_engine(database_url, pool_size=2)
    servers, channels, stubs = [], [], {}
    for vapid in (True, False):
        for private in (True, False):
            options = NotificationSettings(
                vapid_public_key=KEYS["DISTILL_VAPID_PUBLIC_KEY"] if vapid else "",
                notifier_allow_private_networks=private,
                max_webhooks_per_tenant=3,
            )
            servicer = NotificationsServicer(GatewaySettings(default_page_size=2), engine, options)
            add = notifications_pb2_grpc.add_NotificationsServicer_to_server
            server = GrpcServer("127.0.0.1", 0, services=[(add, servicer, SERVICE)])
            await server.start()
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
            servers.append(server)
            channels.append(channel)
            stubs[vapid, private] = notifications_pb2_grpc.NotificationsStub(channel)
    yield lambda vapid=True, private=True: (stubs[vapid, private], engine)
    for c in channels:
        await c.close()
    for s in servers:
        await s.stop(0)
    await engine.dispose()


@pytest.fixture(scope="module")
def push() -> Iterator[PushService]:
    p = PushService()
    yield p
    p.close()


async def tenant(engine: Any) -> tuple[str, list[tuple[str, str]]]:
    t, key = await make_tenant(engine)
    return t, [("authorization", f"Bearer {key}")]


async def refused(call: Any, code: grpc.StatusCode, says: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await call
    assert e.value.code() == code, e.value.details()
    assert says in (e.value.details() or ""), e.value.details()


async def test_every_rpc_needs_an_api_key(api: Any) -> None:
    stub, _ = api()
    await refused(stub.ListWebhooks(npb.ListWebhooksRequest()), grpc.StatusCode.UNAUTHENTICATED, "API key")
    bad = [("authorization", "Bearer dk_nope_nope")]
    await refused(
        stub.GetVapidPublicKey(npb.GetVapidPublicKeyRequest(), metadata=bad), grpc.StatusCode.UNAUTHENTICATED, ""
    )


async def test_vapid_public_key_or_a_clear_precondition(api: Any, push: PushService) -> None:
    stub, engine = api()
    _, auth = await tenant(engine)
    got = await stub.GetVapidPublicKey(npb.GetVapidPublicKeyRequest(), metadata=auth)
    assert got.public_key == KEYS["DISTILL_VAPID_PUBLIC_KEY"]
    off, _ = api(vapid=False)
    await refused(
        off.GetVapidPublicKey(npb.GetVapidPublicKeyRequest(), metadata=auth),
        grpc.StatusCode.FAILED_PRECONDITION,
        "distill keys vapid",
    )
    sub = push.subscribe()
    await refused(
        off.CreatePushSubscription(npb.CreatePushSubscriptionRequest(**sub), metadata=auth),
        grpc.StatusCode.FAILED_PRECONDITION,
        "Web Push is not configured",
    )


async def test_webhook_secret_is_shown_once_and_lists_page(api: Any) -> None:
    stub, engine = api()
    tenant_id, auth = await tenant(engine)
    task_id, _ = await make_task(engine, tenant_id, ["https://example.com/"])
    made = []
    for n in range(3):
        made.append(
            await stub.CreateWebhook(
                npb.CreateWebhookRequest(
                    url=f"https://hooks.example.com/{n}?token=abc",
                    filter=npb.EVENT_FILTER_ALL if n else npb.EVENT_FILTER_UNSPECIFIED,
                    task_id=str(task_id) if n == 2 else "",
                    labels={"team": "news"} if n == 1 else {},
                ),
                metadata=auth,
            )
        )
    assert all(h.secret.startswith("whsec_") for h in made) and len({h.secret for h in made}) == 3
    assert made[0].filter == npb.EVENT_FILTER_DEFAULT and made[1].filter == npb.EVENT_FILTER_ALL
    page1 = await stub.ListWebhooks(npb.ListWebhooksRequest(), metadata=auth)
    page2 = await stub.ListWebhooks(npb.ListWebhooksRequest(page_token=page1.next_page_token), metadata=auth)
    listed = [*page1.webhooks, *page2.webhooks]
    assert len(page1.webhooks) == 2 and page1.next_page_token and not page2.next_page_token
    assert sorted(h.id for h in listed) == sorted(h.id for h in made)
    assert all(not h.secret for h in listed), "a listing showed a signing secret"
    by_id = {h.id: h for h in listed}
    assert by_id[made[1].id].labels == {"team": "news"} and by_id[made[2].id].task_id == str(task_id)
    await refused(
        stub.CreateWebhook(npb.CreateWebhookRequest(url="https://hooks.example.com/4"), metadata=auth),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "the limit is 3",
    )
    await stub.DeleteWebhook(npb.DeleteWebhookRequest(id=made[0].id), metadata=auth)
    await refused(
        stub.DeleteWebhook(npb.DeleteWebhookRequest(id=made[0].id), metadata=auth),
        grpc.StatusCode.NOT_FOUND,
        "not found",
    )
    async with engine.connect() as conn:
        stored = (
            await conn.execute(text("SELECT secret FROM webhooks WHERE id = :i"), {"i": uuid.UUID(made[1].id)})
        ).scalar()
    assert stored == made[1].secret  # kept to sign with; shown to no one after creation


async def test_tenants_see_only_their_own(api: Any, push: PushService) -> None:
    stub, engine = api()
    _, alice = await tenant(engine)
    bob_id, bob = await tenant(engine)
    hook = await stub.CreateWebhook(npb.CreateWebhookRequest(url="https://hooks.example.com/a"), metadata=alice)
    sub = await stub.CreatePushSubscription(npb.CreatePushSubscriptionRequest(**push.subscribe()), metadata=alice)
    assert not (await stub.ListWebhooks(npb.ListWebhooksRequest(), metadata=bob)).webhooks
    await refused(stub.DeleteWebhook(npb.DeleteWebhookRequest(id=hook.id), metadata=bob), grpc.StatusCode.NOT_FOUND, "")
    await refused(
        stub.DeletePushSubscription(npb.DeletePushSubscriptionRequest(id=sub.id), metadata=bob),
        grpc.StatusCode.NOT_FOUND,
        "",
    )
    alices_task, _ = await make_task(engine, (await tenant(engine))[0], ["https://example.com/"])
    await refused(
        stub.CreateWebhook(
            npb.CreateWebhookRequest(url="https://hooks.example.com/b", task_id=str(alices_task)), metadata=bob
        ),
        grpc.StatusCode.NOT_FOUND,
        f"task {alices_task} not found",
    )
    await stub.DeletePushSubscription(npb.DeletePushSubscriptionRequest(id=sub.id), metadata=alice)
    assert bob_id


async def test_resubscribing_the_same_endpoint_updates_it(api: Any, push: PushService) -> None:
    stub, engine = api()
    tenant_id, auth = await tenant(engine)
    sub = push.subscribe()
    first = await stub.CreatePushSubscription(npb.CreatePushSubscriptionRequest(**sub), metadata=auth)
    renewed = {**push.subscribe(), "endpoint": sub["endpoint"]}
    again = await stub.CreatePushSubscription(
        npb.CreatePushSubscriptionRequest(**renewed, filter=npb.EVENT_FILTER_ALL), metadata=auth
    )
    assert again.id == first.id and again.filter == npb.EVENT_FILTER_ALL
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT p256dh, auth FROM push_subscriptions WHERE tenant_id = :t"), {"t": tenant_id}
            )
        ).one()
    assert (row.p256dh, row.auth) == (renewed["p256dh"], renewed["auth"])


@pytest.mark.parametrize(
    ("request_fields", "says"),
    [
        ({"url": "ftp://hooks.example.com/"}, "url must be an http or https URL"),
        ({"url": "not a url"}, "url must be an http or https URL"),
        ({"url": "https://user:pw@hooks.example.com/"}, "user name or password"),
        ({"url": "https://hooks.example.com/", "filter": 9}, "filter: unknown value 9"),
        ({"url": "https://hooks.example.com/", "task_id": "nope"}, "task_id 'nope' is not a valid id"),
        ({"url": "https://hooks.example.com/", "labels": {"Bad Key": "x"}}, "labels: key 'Bad Key'"),
    ],
)
async def test_bad_webhooks_are_invalid_argument(api: Any, request_fields: dict[str, Any], says: str) -> None:
    stub, engine = api()
    _, auth = await tenant(engine)
    await refused(
        stub.CreateWebhook(npb.CreateWebhookRequest(**request_fields), metadata=auth),
        grpc.StatusCode.INVALID_ARGUMENT,
        says,
    )


async def test_private_addresses_only_where_the_deployment_allows_them(api: Any, push: PushService) -> None:
    strict, engine = api(private=False)
    relaxed, _ = api(private=True)
    _, auth = await tenant(engine)
    for url in (
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://localhost/x",
        "http://10.0.0.5/x",
    ):
        await refused(
            strict.CreateWebhook(npb.CreateWebhookRequest(url=url), metadata=auth),
            grpc.StatusCode.INVALID_ARGUMENT,
            "non-public address",
        )
    sub = {**push.subscribe()}
    await refused(
        strict.CreatePushSubscription(npb.CreatePushSubscriptionRequest(**sub), metadata=auth),
        grpc.StatusCode.INVALID_ARGUMENT,
        "endpoint: 127.0.0.1 resolves to 127.0.0.1, a non-public address",
    )
    assert (await relaxed.CreateWebhook(npb.CreateWebhookRequest(url="http://127.0.0.1:8080/h"), metadata=auth)).id


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"p256dh": ""}, "p256dh must be the subscription's P-256 public key"),
        ({"p256dh": "BAAA"}, "p256dh must be"),
        ({"auth": "c2hvcnQ"}, "auth must be the subscription's authentication secret"),
        ({"endpoint": ""}, "endpoint is required"),
        ({"endpoint": "mailto:x@example.com"}, "endpoint must be an http or https URL"),
    ],
)
async def test_bad_push_subscriptions_are_invalid_argument(
    api: Any, push: PushService, change: dict[str, str], says: str
) -> None:
    stub, engine = api()
    _, auth = await tenant(engine)
    sub = {**push.subscribe(), **change}
    await refused(
        stub.CreatePushSubscription(npb.CreatePushSubscriptionRequest(**sub), metadata=auth),
        grpc.StatusCode.INVALID_ARGUMENT,
        says,
    )
