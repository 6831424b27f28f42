"""A real restart: the notifier process is SIGKILLed in the middle of a stream of events and
started again; every notification still arrives (at least once, deduplicated by event id)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from distill.v1 import task_pb2
from distill_cli.vapid import generate
from distill_core import nats as dnats
from distill_core.db.session import make_engine
from distill_core.events import item_event, publish_all
from distill_core.settings import Settings
from distill_notifier.signing import new_secret
from sqlalchemy import text

from tests.fakes.push_service import PushService
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers import make_tenant, wait_for

pytestmark = pytest.mark.integration

EVENTS = 300


def start_notifier(nats_url: str, database_url: str, keys: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        DISTILL_NATS_URL=nats_url,
        DISTILL_DATABASE_URL=database_url,
        DISTILL_NOTIFIER_ALLOW_PRIVATE_NETWORKS="true",
        DISTILL_NOTIFIER_TIMEOUT="2",
        DISTILL_NOTIFIER_BACKOFF="0.1,0.2",
        DISTILL_NOTIFIER_POLL_INTERVAL="0.2",
        DISTILL_NOTIFIER_ACK_WAIT="3",
        DISTILL_VAPID_PRIVATE_KEY=keys["DISTILL_VAPID_PRIVATE_KEY"],
        DISTILL_VAPID_SUBJECT="mailto:ops@example.com",
        DISTILL_HEALTH_PORT="0",
        DISTILL_METRICS_PORT="0",
        DISTILL_LOG_FORMAT="json",
    )
    out = open(log, "ab")
    return subprocess.Popen([sys.executable, "-m", "distill_notifier"], env=env, stdout=out, stderr=out)


def started(log: Path, count: int) -> bool:
    return log.exists() and log.read_text(errors="replace").count('"notifier started"') >= count


async def test_killing_the_notifier_mid_run_loses_no_notification(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    keys = generate()
    engine = make_engine(database_url, pool_size=2)
    nc = await dnats.connect(Settings(nats_url=nats_url), "test")
    js = dnats.jetstream(nc)
    rx = WebhookReceiver(new_secret())
    push = PushService(keys["DISTILL_VAPID_PUBLIC_KEY"])
    sub = push.subscribe()
    tenant, _ = await make_tenant(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO webhooks (id, tenant_id, url, secret, filter, labels) VALUES (:i, :t, :u, :s, 'all', '{}')"
            ),
            {"i": uuid.uuid4(), "t": tenant, "u": rx.url, "s": rx.secret},
        )
        await conn.execute(
            text(
                "INSERT INTO push_subscriptions (id, tenant_id, endpoint, p256dh, auth, filter, labels) "
                "VALUES (:i, :t, :e, :p, :a, 'default', '{}')"
            ),
            {"i": uuid.uuid4(), "t": tenant, "e": sub["endpoint"], "p": sub["p256dh"], "a": sub["auth"]},
        )
    log = tmp_path / "notifier.log"
    first = start_notifier(nats_url, database_url, keys, log)
    procs: list[subprocess.Popen[bytes]] = [first]
    task_id = str(uuid.uuid4())
    ids = [f"{task_id}:{n}" for n in range(EVENTS)]

    async def produce() -> None:
        for n, eid in enumerate(ids):
            item = task_pb2.Item(id=str(uuid.uuid4()), task_id=task_id, status=task_pb2.ITEM_STATUS_SUCCEEDED)
            item.title = f"page {n}"
            await publish_all(js, [item_event(tenant, item, eid)])
            await asyncio.sleep(0.01)

    try:
        await wait_for(lambda: asyncio.to_thread(started, log, 1), 30, "the notifier to start")
        producer = asyncio.create_task(produce())
        await wait_for(lambda: _at_least(rx, 50), 30, "the first 50 webhooks")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = len(rx.events())
        second = start_notifier(nats_url, database_url, keys, log)
        procs.append(second)
        await producer
        await wait_for(lambda: _at_least(rx, EVENTS), 60, f"all {EVENTS} webhooks after the restart")
        await wait_for(lambda: _pushes(push, sub, EVENTS), 60, f"all {EVENTS} pushes after the restart")
        assert at_kill < EVENTS, "the notifier was killed after everything had arrived: the test proves nothing"
        assert [e["id"] for e in sorted(rx.events(), key=lambda e: e["sequence"])] == ids
        assert {m["id"] for m in push.messages(sub)} == set(ids)
        assert not rx.rejected and not push.rejected

        async def all_recorded() -> bool:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT status, count(*) FROM deliveries WHERE tenant_id = :t GROUP BY status"),
                    {"t": tenant},
                )
                return dict(rows.all()) == {"delivered": 2 * EVENTS}

        # A send the killed process made but never recorded is made again when its lease ends.
        await wait_for(all_recorded, 30, "every delivery to be recorded as delivered")
        print(
            f"\nkilled after {at_kill}/{EVENTS} webhooks; after the restart every one arrived "
            f"({rx.count() - EVENTS} webhook and {len(push.messages(sub)) - EVENTS} push duplicates, "
            "each with the same event id)"
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, "the notifier did not stop cleanly on SIGTERM"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        rx.close()
        push.close()
        await nc.close()
        await engine.dispose()


async def _at_least(rx: WebhookReceiver, n: int) -> bool:
    return len(rx.events()) >= n


async def _pushes(push: PushService, sub: dict[str, str], n: int) -> bool:
    return len({m["id"] for m in push.messages(sub)}) >= n
