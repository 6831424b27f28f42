"""The notifier's delivery outcomes on its metrics: a webhook that fails twice and then takes
every event shows two retries, three deliveries and their latencies (real NATS, PostgreSQL,
the real notifier and a local webhook receiver)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers import wait_for
from tests.integration.test_notifier_delivery import World, publish_story, world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration


def _samples() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """What the notifier's /metrics serves: this process's registry (the notifier runs in it)."""
    body = generate_latest(REGISTRY).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value for f in text_string_to_metric_families(body) for s in f.samples
    }


def _get(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


async def test_webhook_outcomes_are_counted(world: World) -> None:  # noqa: F811
    tenant, auth = await world.tenant()
    rx = WebhookReceiver()
    rx.fail_next(2)
    await world.webhook(auth, rx)  # the default filter: item.succeeded, item.failed, task.finished
    before = _samples()
    await publish_story(world.js, tenant, str(uuid.uuid4()))

    async def three() -> bool:
        return len(rx.events()) >= 3

    await wait_for(three, 30, "the three default events at the webhook")
    await asyncio.sleep(0.3)  # the last attempt is counted after its answer
    after = _samples()

    def delta(name: str, **labels: str) -> float:
        return _get(after, name, **labels) - _get(before, name, **labels)

    assert delta("distill_notifier_events_total") >= 5
    assert delta("distill_notifier_attempts_total", kind="webhook", outcome="retry") == 2
    assert delta("distill_notifier_attempts_total", kind="webhook", outcome="delivered") == 3
    assert delta("distill_notifier_attempts_total", kind="webhook", outcome="fail") == 0
    assert delta("distill_notifier_attempt_seconds_count", kind="webhook") == 5
    assert delta("distill_notifier_delivery_latency_seconds_count", kind="webhook") == 3
    assert delta("distill_notifier_attempts_total", kind="push") == 0
    rx.close()
