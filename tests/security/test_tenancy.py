"""A tenant with a valid key goes after another tenant's things, on every RPC that takes an id.

Each probe is answered exactly as for an id that does not exist (NOT_FOUND, or the same
INVALID_ARGUMENT), and the victim's things are unchanged afterwards. Listings, statistics
and watches show only the caller's own. A new RPC that takes an id fails the coverage test
until it gets a probe here."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from distill.v1 import pipeline_pb2, task_pb2
from distill.v1.pipeline_pb2_grpc import PipelineStub
from distill_cli.vapid import generate
from sqlalchemy import text

from tests.integration.gateway_fixture import Gateway, fail_item, running_gateway
from tests.integration.notion_env import article, seed
from tests.security.attack import Outcome, bearer, call, method, public_methods, random_id
from tests.security.conftest import BURST, MAX_REQUEST_BYTES, RATE

pytestmark = pytest.mark.integration

VAPID = generate("mailto:ops@example.com")
P256DH = "BAxjhd0DrAbtMxmvzkUNsTEjUM3S6nSNXCSvFoj5Kx2PtKr0nR7Tq2D8xYdDBZ1gFX3hpDvXNnq0G0-O1GySBOk"
AUTH = "x1XzMvJ-6qpRB2tJ2P9KfA"


@pytest.fixture(scope="module")
async def gw(nats_url: str, database_url: str) -> AsyncIterator[Gateway]:
    """The module's gateway with Web Push configured (push subscriptions can be made)."""
    os.environ["DISTILL_VAPID_PUBLIC_KEY"] = VAPID["DISTILL_VAPID_PUBLIC_KEY"]
    try:
        async with running_gateway(
            nats_url, database_url, create_task_rate=RATE, create_task_burst=BURST, max_request_bytes=MAX_REQUEST_BYTES
        ) as g:
            yield g
    finally:
        os.environ.pop("DISTILL_VAPID_PUBLIC_KEY", None)


@dataclass
class Victim:
    tenant: str
    key: str
    task: str
    items: list[str]
    failed_item: str
    dead_letter: str
    parsed: str
    ai: str
    webhook: str
    subscription: str
    report: str


@pytest.fixture(scope="module")
async def victim(gw: Gateway, channel: grpc.aio.Channel) -> Victim:
    """Tenant B with a task, items with content, a dead letter, a webhook and a push subscription."""
    tenant, key = await gw.tenant()
    task_id, items = await seed(gw.engine, tenant, [article(1), article(2)], inputs=None)
    await gw.sql("UPDATE tasks SET labels = CAST(:l AS jsonb) WHERE id = :t", l='{"secret-list": "b"}', t=task_id)
    await fail_item(gw, str(items[1]["id"]), "notion", "HTTP_FORBIDDEN")
    [dl] = await gw.sql("SELECT id FROM dead_letters WHERE item_id = :i", i=items[1]["id"])
    [row] = await gw.sql("SELECT parsed_content_id, ai_output_id FROM items WHERE id = :i", i=items[0]["id"])
    hook = await call(
        channel, method("distill.v1.Notifications.CreateWebhook"), {"url": "https://hooks.example.com/b"}, bearer(key)
    )
    sub = await call(
        channel,
        method("distill.v1.Notifications.CreatePushSubscription"),
        {"endpoint": "https://push.example.com/b", "p256dh": P256DH, "auth": AUTH},
        bearer(key),
    )
    report = await call(channel, method("distill.v1.Pipeline.ExportTaskReport"), {"task_id": str(task_id)}, bearer(key))
    assert hook.code == sub.code == report.code == grpc.StatusCode.OK, (hook, sub, report)
    return Victim(
        tenant,
        key,
        str(task_id),
        [str(i["id"]) for i in items],
        str(items[1]["id"]),
        str(dl["id"]),
        str(row["parsed_content_id"]),
        str(row["ai_output_id"]),
        hook.response.id,
        sub.response.id,
        report.response.id,
    )


@pytest.fixture(scope="module")
async def attacker(gw: Gateway) -> str:
    _, key = await gw.tenant()
    return key


def probes(v: Victim) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Per RPC: (request naming the victim's thing, the same request naming a thing that does not exist)."""
    r = random_id()

    def pair(make: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return make(None), make(r)

    return {
        "Pipeline.GetTask": [pair(lambda x: {"id": x or v.task, "include_items": True})],
        "Pipeline.GetItem": [pair(lambda x: {"id": x or v.items[0], "view": "FULL"})],
        "Pipeline.ListItems": [pair(lambda x: {"task_id": x or v.task})],
        "Pipeline.CancelTask": [pair(lambda x: {"id": x or v.task})],
        "Pipeline.RetryTask": [pair(lambda x: {"id": x or v.task, "item_ids": [v.failed_item]})],
        "Pipeline.WatchTask": [pair(lambda x: {"task_id": x or v.task})],
        "Pipeline.ExportTaskReport": [pair(lambda x: {"task_id": x or v.task, "format": "REPORT_FORMAT_PDF"})],
        "Pipeline.GetReport": [pair(lambda x: {"id": x or v.report})],
        "Pipeline.DownloadReport": [pair(lambda x: {"id": x or v.report})],
        "Pipeline.CreateTask": [
            pair(lambda x: {"parsed_content_ids": [x or v.parsed]}),
            pair(lambda x: {"ai_content_ids": [x or v.ai]}),
        ],
        "Admin.ReplayDeadLetters": [pair(lambda x: {"ids": [x or v.dead_letter]})],
        "Admin.PurgeDeadLetters": [pair(lambda x: {"ids": [x or v.dead_letter]})],
        "Admin.ListDeadLetters": [pair(lambda x: {"task_id": x or v.task})],
        "Notifications.DeleteWebhook": [pair(lambda x: {"id": x or v.webhook})],
        "Notifications.DeletePushSubscription": [pair(lambda x: {"id": x or v.subscription})],
        "Notifications.CreateWebhook": [pair(lambda x: {"url": "https://hooks.example.com/a", "task_id": x or v.task})],
        "Notifications.CreatePushSubscription": [
            pair(
                lambda x: {
                    "endpoint": "https://push.example.com/a",
                    "p256dh": P256DH,
                    "auth": AUTH,
                    "task_id": x or v.task,
                }
            )
        ],
    }


def _id_fields(m: Any) -> list[str]:
    return [f.name for f in m.input_type.fields if f.name.endswith("id") or f.name.endswith("ids")]


def test_every_rpc_that_takes_an_id_is_probed() -> None:
    fake = Victim(*(["x"] * 11))  # type: ignore[arg-type]
    probed = {f"distill.v1.{name}" for name in probes(fake)}
    taking_ids = {m.full_name for m in public_methods() if _id_fields(m)}
    missing = taking_ids - probed
    assert not missing, f"RPCs taking ids without a cross-tenant probe here: {sorted(missing)}"


async def test_another_tenants_ids_are_answered_as_if_they_did_not_exist(
    gw: Gateway, channel: grpc.aio.Channel, victim: Victim, attacker: str
) -> None:
    before = await victim_state(gw, victim)
    create = method("distill.v1.Pipeline.CreateTask")
    own = await call(channel, create, {"urls": ["https://example.com/x"]}, bearer(attacker))
    retry_own = method("distill.v1.Pipeline.RetryTask")
    got = await call(channel, retry_own, {"id": own.response.id, "item_ids": [victim.failed_item]}, bearer(attacker))
    control = await call(channel, retry_own, {"id": own.response.id, "item_ids": [random_id()]}, bearer(attacker))
    assert got.code == grpc.StatusCode.INVALID_ARGUMENT and got.shape == control.shape, (got, control)
    for name, pairs in probes(victim).items():
        m = method(f"distill.v1.{name}")
        for theirs, nobodys in pairs:
            got = await call(channel, m, theirs, bearer(attacker))
            control = await call(channel, m, nobodys, bearer(attacker))
            assert got.code != grpc.StatusCode.OK or _empty(got), f"{name} {theirs} answered {got.response}"
            assert got.shape == control.shape, f"{name}: {got} differs from the answer for an unknown id {control}"
            if got.code != grpc.StatusCode.OK:
                assert got.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT), f"{name}: {got}"
    assert await victim_state(gw, victim) == before, "the victim's data changed"
    assert not await gw.sql(
        "SELECT id FROM tasks WHERE tenant_id <> :v AND id IN "
        "(SELECT task_id FROM items WHERE parsed_content_id = :p OR ai_output_id = :a)",
        v=victim.tenant,
        p=uuid.UUID(victim.parsed),
        a=uuid.UUID(victim.ai),
    ), "a task was made from the victim's content"
    # The control: the victim itself sees its things through the same RPCs.
    own = await call(channel, method("distill.v1.Pipeline.GetItem"), {"id": victim.items[0]}, bearer(victim.key))
    assert own.code == grpc.StatusCode.OK and own.response.parsed.title == "Article 1"


def _empty(out: Outcome) -> bool:
    """An OK answer that shows nothing (a listing filtered by the victim's task id)."""
    r = out.response
    return not getattr(r, "dead_letters", None) and not getattr(r, "total_size", 0)


async def victim_state(gw: Gateway, v: Victim) -> list[Any]:
    return [
        await gw.sql("SELECT id, status, finished_at FROM tasks WHERE tenant_id = :t", t=v.tenant),
        await gw.sql("SELECT id, status, generation FROM items WHERE tenant_id = :t ORDER BY id", t=v.tenant),
        await gw.sql("SELECT id FROM dead_letters WHERE tenant_id = :t", t=v.tenant),
        await gw.sql("SELECT id, url FROM webhooks WHERE tenant_id = :t", t=v.tenant),
        await gw.sql("SELECT id, endpoint FROM push_subscriptions WHERE tenant_id = :t", t=v.tenant),
        await gw.sql("SELECT id, status FROM reports WHERE tenant_id = :t ORDER BY id", t=v.tenant),
    ]


async def test_listings_statistics_and_bulk_actions_stay_within_the_callers_tenant(
    gw: Gateway, channel: grpc.aio.Channel, victim: Victim, attacker: str
) -> None:
    before = await victim_state(gw, victim)
    md = bearer(attacker)
    tasks = await call(channel, method("distill.v1.Pipeline.ListTasks"), {"page_size": 1000}, md)
    assert victim.task not in {t.id for t in tasks.response.tasks}
    by_label = await call(channel, method("distill.v1.Pipeline.ListTasks"), {"labels": {"secret-list": "b"}}, md)
    assert by_label.code == grpc.StatusCode.OK and by_label.response.total_size == 0
    dls = await call(channel, method("distill.v1.Admin.ListDeadLetters"), {"page_size": 1000}, md)
    assert dls.response.total_size == 0
    hooks = await call(channel, method("distill.v1.Notifications.ListWebhooks"), {}, md)
    assert not hooks.response.webhooks
    stats = await call(channel, method("distill.v1.Admin.GetStatistics"), {}, md)
    own_items = sum(t.counts.total for t in tasks.response.tasks)
    assert (stats.response.tasks_created, stats.response.items_created) == (tasks.response.total_size, own_items)
    for name in ("ReplayDeadLetters", "PurgeDeadLetters"):
        bulk = await call(channel, method(f"distill.v1.Admin.{name}"), {"all": True}, md)
        assert bulk.code == grpc.StatusCode.OK, bulk
    assert await victim_state(gw, victim) == before
    # The control: the victim's own statistics and listings do show its things.
    mine = await call(channel, method("distill.v1.Admin.GetStatistics"), {}, bearer(victim.key))
    assert mine.response.items_created == 2
    theirs = await call(channel, method("distill.v1.Admin.ListDeadLetters"), {}, bearer(victim.key))
    assert [d.id for d in theirs.response.dead_letters] == [victim.dead_letter]


async def test_watch_tasks_never_shows_another_tenants_events(
    gw: Gateway, channel: grpc.aio.Channel, victim: Victim, attacker: str
) -> None:
    create = method("distill.v1.Pipeline.CreateTask")
    seen: list[task_pb2.TaskEvent] = []

    async def follow() -> None:
        stream = PipelineStub(channel).WatchTasks(pipeline_pb2.WatchTasksRequest(), metadata=bearer(attacker))
        async for ev in stream:
            seen.append(ev)

    watcher = asyncio.create_task(follow())
    await asyncio.sleep(1.0)
    theirs = await call(channel, create, {"urls": [f"https://example.com/b/{uuid.uuid4().hex}"]}, bearer(victim.key))
    mine = await call(channel, create, {"urls": [f"https://example.com/a/{uuid.uuid4().hex}"]}, bearer(attacker))
    assert theirs.code == mine.code == grpc.StatusCode.OK
    for _ in range(100):
        if any(e.task.id == mine.response.id for e in seen):
            break
        await asyncio.sleep(0.1)
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    ids = {e.task.id for e in seen if e.task.id} | {e.item.task_id for e in seen if e.item.task_id}
    assert mine.response.id in ids, f"the watcher saw nothing of its own task: {seen}"
    assert theirs.response.id not in ids and victim.task not in ids


async def test_the_nats_subject_of_a_tenant_cannot_be_widened_by_its_name(gw: Gateway) -> None:
    """Tenant ids become NATS subject tokens (distill.events.<tenant>.<task>): a name with
    wildcards or dots must not turn into a subscription to other tenants' events."""
    from distill_core import apikeys

    for name in ("evil.*", "a > b", "x.>.y", "bob@example.com", "..", "ÄÖ"):
        async with gw.engine.begin() as conn:
            try:
                await apikeys.create_key(conn, name)
            except ValueError:
                continue  # refused outright
            tid = (await conn.execute(text("SELECT id FROM tenants WHERE name = :n"), {"n": name})).scalar_one()
        assert all(c.isalnum() or c == "-" for c in tid) and tid.isascii(), f"tenant {name!r} got id {tid!r}"
