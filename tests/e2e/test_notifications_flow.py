"""Notifications end to end: `distill up` with VAPID keys, destinations made through the public API,
real pages through every stage, and what a webhook receiver and a browser's push service see;
then the notifier is killed in the middle of a task and nothing is missed."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from distill.v1 import notifications_pb2 as npb
from distill.v1 import notifications_pb2_grpc, task_pb2
from distill_cli.vapid import generate
from distill_client import AsyncClient

from tests.e2e.conftest import Stack, start_stack, stop_stack
from tests.e2e.test_up import children
from tests.fakes.push_service import PushService
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e

KEYS = generate("mailto:ops@example.com")


@pytest.fixture(scope="module")
def notify_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        **KEYS,
        "DISTILL_NOTIFIER_BACKOFF": "0.2,0.5,1",
        "DISTILL_NOTIFIER_TIMEOUT": "3",
        "DISTILL_NOTIFIER_ACK_WAIT": "3",
        "DISTILL_RESTART_BACKOFF_MAX": "0.5",
    }
    s = start_stack(tmp_path_factory.mktemp("notify") / "data", extra_env=env)
    yield s
    stop_stack(s.proc)


@pytest.fixture
async def stub(notify_stack: Stack) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(notify_stack.gateway) as channel:
        yield notifications_pb2_grpc.NotificationsStub(channel)


def auth(stack: Stack) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {stack.api_key}")]


async def test_a_task_notifies_its_webhook_and_browser(notify_stack: Stack, stub: Any, pages: Any) -> None:
    md = auth(notify_stack)
    key = await stub.GetVapidPublicKey(npb.GetVapidPublicKeyRequest(), metadata=md)
    assert key.public_key == KEYS["DISTILL_VAPID_PUBLIC_KEY"]
    push = PushService(key.public_key)
    rx = WebhookReceiver()
    try:
        sub = push.subscribe()
        made = await stub.CreatePushSubscription(npb.CreatePushSubscriptionRequest(**sub), metadata=md)
        hook = await stub.CreateWebhook(npb.CreateWebhookRequest(url=rx.url, filter=npb.EVENT_FILTER_ALL), metadata=md)
        rx.secret = hook.secret
        urls = [pages.url("article.html"), pages.url("recipe.html"), pages.url("field-notes.txt"), pages.url("gone")]
        async with AsyncClient(notify_stack.gateway, notify_stack.api_key) as client:
            task = await client.submit(urls)
            done = await client.wait(task.id, timeout=120)
        assert done.status == task_pb2.TASK_STATUS_PARTIALLY_FAILED

        def outcomes(types: list[str]) -> Counter[str]:
            return Counter(t for t in types if t in ("item.succeeded", "item.failed", "task.finished"))

        want = Counter({"item.succeeded": 3, "item.failed": 1, "task.finished": 1})

        async def all_pushed() -> bool:
            return outcomes([m["type"] for m in push.messages(sub)]) == want

        await wait_for(lambda: _true(outcomes([e["type"] for e in rx.events()]) == want), 30, "the webhook outcomes")
        await wait_for(all_pushed, 30, "the push outcomes")
        events = rx.events()
        assert {e["task_id"] for e in events} == {task.id} and not rx.rejected and not push.rejected
        assert any(e["type"] == "item.updated" for e in events), "EVENT_FILTER_ALL brought no phase changes"
        recipe = next(m for m in push.messages(sub) if m.get("title") == "Lemon Ricotta Pancakes")
        assert recipe["type"] == "item.succeeded" and recipe["status"] == "ITEM_STATUS_SUCCEEDED"
        failed = next(m for m in push.messages(sub) if m["type"] == "item.failed")
        assert failed["error"]["code"] == "HTTP_NOT_FOUND" and failed["input"] == urls[3]
        assert len(push.messages(sub)) == 5, "the default filter let phase changes through"
        await stub.DeleteWebhook(npb.DeleteWebhookRequest(id=hook.id), metadata=md)
        await stub.DeletePushSubscription(npb.DeletePushSubscriptionRequest(id=made.id), metadata=md)
    finally:
        push.close()
        rx.close()


async def test_killing_the_notifier_mid_task_misses_nothing(notify_stack: Stack, stub: Any, pages: Any) -> None:
    md = auth(notify_stack)
    rx = WebhookReceiver()
    try:
        hook = await stub.CreateWebhook(npb.CreateWebhookRequest(url=rx.url, filter=npb.EVENT_FILTER_ALL), metadata=md)
        rx.secret = hook.secret
        names = ["article.html", "recipe.html", "field-notes.txt"] * 4
        urls = [pages.url(n) + f"?copy={i}" for i, n in enumerate(names)]
        async with AsyncClient(notify_stack.gateway, notify_stack.api_key) as client:
            task = await client.submit(urls)
            await wait_for(lambda: _true(rx.count() >= 3), 60, "the first notifications")
            victim = children(notify_stack.proc.pid)["notifier"]
            os.kill(victim, signal.SIGKILL)
            at_kill = len(rx.events())
            await wait_for(
                lambda: _true(children(notify_stack.proc.pid).get("notifier") not in (None, victim)),
                30,
                "distill up to restart the notifier",
            )
            done = await client.wait(task.id, timeout=120)
            final = await client.get_task(task.id, include_items=True)
        assert done.status == task_pb2.TASK_STATUS_SUCCEEDED
        want = {it.id for it in final.items}

        async def every_item() -> bool:
            got = {e["data"]["item"]["id"] for e in rx.events() if e["type"] == "item.succeeded"}
            return got == want and any(e["type"] == "task.finished" for e in rx.events())

        await wait_for(every_item, 60, "a webhook for every item after the restart")
        assert at_kill < len(rx.events()), "everything had arrived before the kill: the test proves nothing"
        log = await asyncio.to_thread(Path(notify_stack.log).read_text)
        assert "notifier | exited with code -9; restarting" in log
        assert not rx.rejected
        await stub.DeleteWebhook(npb.DeleteWebhookRequest(id=hook.id), metadata=md)
    finally:
        rx.close()


async def _true(value: bool) -> bool:
    return value
