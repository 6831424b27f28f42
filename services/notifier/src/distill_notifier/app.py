"""The notifier: consumes EVENTS and fans each event out to webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
from distill.v1 import task_pb2
from distill_core import nats as dnats
from distill_core import subjects
from distill_core.grpc_server import GrpcServer
from distill_core.logging import get_logger
from google.protobuf import json_format
from nats.errors import TimeoutError as NatsTimeout

from distill_notifier.settings import NotifierSettings

log = get_logger("notifier")


def event_json(ev: task_pb2.TaskEvent, tenant_id: str, sequence: int) -> dict[str, Any]:
    d = json_format.MessageToDict(ev, preserving_proto_field_name=True)
    d["sequence"] = sequence
    d["tenant_id"] = tenant_id
    return d


async def post(client: httpx.AsyncClient, url: str, body: bytes, event_id: str, attempts: int) -> bool:
    delay = 0.5
    for n in range(1, attempts + 1):
        try:
            r = await client.post(
                url, content=body, headers={"Content-Type": "application/json", "Distill-Event-Id": event_id}
            )
            if r.status_code < 300:
                return True
            if 400 <= r.status_code < 500 and r.status_code not in (408, 429):
                log.warning("webhook refused event", url=url, status=r.status_code)
                return False
        except httpx.HTTPError as e:
            log.info("webhook delivery failed", url=url, attempt=n, error=str(e))
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30)
    return False


async def serve(settings: NotifierSettings, stop: asyncio.Event) -> None:
    health = GrpcServer(settings.grpc_host, settings.health_port)
    await health.start()
    nc = await dnats.connect(settings, "distill-notifier")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, settings, stages=())
    sub = await js.pull_subscribe_bind(durable=subjects.NOTIFIER_CONSUMER, stream=subjects.EVENTS_STREAM)
    client = httpx.AsyncClient(timeout=settings.notifier_timeout)
    await health.set_serving(True)
    log.info("notifier started", webhooks=len(settings.notifier_webhooks))
    while not stop.is_set():
        try:
            msgs = await sub.fetch(256, timeout=1.0)
        except (TimeoutError, NatsTimeout):
            continue
        except Exception as e:
            log.warning("fetch failed", error=str(e))
            await asyncio.sleep(1)
            continue
        for m in msgs:
            try:
                ev = task_pb2.TaskEvent.FromString(m.data)
            except Exception:
                await m.term()
                continue
            tenant = m.subject.split(".")[2]
            body = json.dumps(event_json(ev, tenant, int(m.metadata.sequence.stream))).encode()
            log.debug("event", type=task_pb2.EventType.Name(ev.type), task_id=ev.task_id, event_id=ev.event_id)
            if settings.notifier_webhooks:
                await asyncio.gather(
                    *(
                        post(client, u, body, ev.event_id, settings.notifier_max_attempts)
                        for u in settings.notifier_webhooks
                    )
                )
            await m.ack()
    await health.set_serving(False)
    with contextlib.suppress(Exception):
        await sub.unsubscribe()
    await client.aclose()
    await dnats.close(nc)
    await health.stop(1)
