"""The notifier: reads EVENTS, records one delivery per matching destination, and works them.

Two loops that share nothing but the deliveries table:
  intake      fetch events from the durable consumer, commit their deliveries, then ack
  dispatcher  claim due deliveries and send each as its own task (webhooks, Web Push)
A slow endpoint therefore never holds up the event stream, and a restart loses nothing:
an unacked event is read again, a claimed delivery is taken again when its lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib

from distill.v1 import task_pb2
from distill_core import metrics as core_metrics
from distill_core import nats as dnats
from distill_core import subjects
from distill_core.db.session import make_engine, wait_for_database
from distill_core.grpc_server import GrpcServer
from distill_core.logging import get_logger
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from distill_notifier import intake, metrics, queue
from distill_notifier.dispatcher import Dispatcher
from distill_notifier.settings import NotifierSettings
from distill_notifier.transport import Poster
from distill_notifier.webhooks import WebhookSender
from distill_notifier.webpush import PushSender, load_vapid, public_key

log = get_logger("notifier")

PURGE_INTERVAL = 3600.0


def tenant_of(subject: str) -> str | None:
    """The tenant in an event's subject (distill.events.TENANT.TASK), None when it is not one."""
    parts = subject.split(".")
    return parts[2] if len(parts) >= 4 else None


def parse(msg: object) -> intake.Incoming | None:
    """The event in a stream message (None when it is not one)."""
    tenant = tenant_of(msg.subject)  # type: ignore[attr-defined]
    if tenant is None:
        return None
    try:
        ev = task_pb2.TaskEvent.FromString(msg.data)  # type: ignore[attr-defined]
    except Exception:
        return None
    return intake.Incoming(tenant, int(msg.metadata.sequence.stream), ev)  # type: ignore[attr-defined]


async def take(engine: AsyncEngine, msgs: list[Msg]) -> tuple[int, int]:
    """Record the deliveries of fetched events, then settle them; returns (events, deliveries added).

    Most events have no destination (their tenant has no webhook or push subscription):
    those cost one statement per batch, outside a transaction, and are never decoded. The
    events of tenants that have some are recorded in one transaction. Unreadable messages
    are terminated; if recording fails, every event is given back to be read again."""
    by_tenant: dict[str, list[Msg]] = {}
    bad: list[Msg] = []
    for m in msgs:
        tenant = tenant_of(m.subject)
        (bad if tenant is None else by_tenant.setdefault(tenant, [])).append(m)
    settled: list[Msg] = []
    added = 0
    try:
        if by_tenant:
            async with engine.connect() as conn:  # autocommit: a lone read needs no BEGIN/COMMIT
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                dests = await intake.destinations(conn, by_tenant)
            wanted = {d.tenant_id for d in dests}
            events: list[intake.Incoming] = []
            for tenant, group in by_tenant.items():
                if tenant not in wanted:
                    settled.extend(group)
                    continue
                for m in group:
                    inc = parse(m)
                    if inc is None:
                        bad.append(m)
                    else:
                        events.append(inc)
                        settled.append(m)
            if events:
                async with engine.begin() as conn:
                    added = await intake.record_events(conn, events, dests)
    except Exception as e:  # the events come back after a short delay; nothing is lost
        log.warning("could not record deliveries; events will be read again", error=str(e)[:300])
        unreadable = {id(m) for m in bad}
        for m in msgs:
            with contextlib.suppress(Exception):
                await (m.term() if id(m) in unreadable else m.nak(delay=2.0))
        return 0, 0
    for m in bad:
        with contextlib.suppress(Exception):
            await m.term()
    for m in settled:
        with contextlib.suppress(Exception):
            await m.ack()
    metrics.EVENTS.inc(len(settled))
    metrics.RECORDED.inc(added)
    return len(settled), added


async def intake_forever(
    js: JetStreamContext, engine: AsyncEngine, settings: NotifierSettings, dispatcher: Dispatcher, stop: asyncio.Event
) -> None:
    sub = await js.pull_subscribe_bind(durable=subjects.NOTIFIER_CONSUMER, stream=subjects.EVENTS_STREAM)
    try:
        while not stop.is_set():
            try:
                msgs = await sub.fetch(settings.notifier_batch_size, timeout=1.0)
            except (TimeoutError, NatsTimeout):
                continue
            except Exception as e:
                log.warning("fetch failed", error=str(e))
                await asyncio.sleep(1)
                continue
            _, added = await take(engine, msgs)
            if added:
                dispatcher.wake.set()
            if len(msgs) < settings.notifier_batch_size and settings.notifier_batch_wait > 0:
                # A trickle (events keep coming, fewer than a batch at a time): each fetch
                # and lookup costs the same for one event as for hundreds, so let some gather.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.notifier_batch_wait)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def tune_consumer(js: JetStreamContext, ack_wait: float) -> None:
    """Give the EVENTS durable our ack wait: events a killed notifier had fetched come back after it.

    Intake acks as soon as the deliveries are committed (milliseconds), so a short wait costs
    nothing and bounds how long a crash delays notifications. Reading an event twice records
    nothing new."""
    try:
        info = await js.consumer_info(subjects.EVENTS_STREAM, subjects.NOTIFIER_CONSUMER)
        if abs((info.config.ack_wait or 0.0) - ack_wait) > 0.5:
            await js.add_consumer(subjects.EVENTS_STREAM, info.config.evolve(ack_wait=ack_wait))
            log.info("events consumer ack wait set", seconds=ack_wait)
    except Exception as e:  # not allowed or not supported: the stream's default stays
        log.warning("could not set the events consumer's ack wait", error=str(e)[:300])


async def purge_forever(engine: AsyncEngine, settings: NotifierSettings, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            async with engine.begin() as conn:
                n = await queue.purge(conn, settings.notifier_keep_days)
            if n:
                log.info("finished deliveries purged", count=n)
        except Exception as e:
            log.warning("purge failed", error=str(e)[:300])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PURGE_INTERVAL)


def senders(settings: NotifierSettings, poster: Poster) -> dict[str, WebhookSender | PushSender]:
    vapid = None
    if settings.vapid_private_key is not None and settings.vapid_private_key.get_secret_value().strip():
        vapid = load_vapid(settings.vapid_private_key.get_secret_value())
        log.info("web push enabled", vapid_public_key=public_key(vapid))
    else:
        log.info("web push disabled: DISTILL_VAPID_PRIVATE_KEY is not set")
    return {
        "webhook": WebhookSender(poster),
        "push": PushSender(poster, vapid, settings.vapid_subject, settings.push_ttl),
    }


async def serve(settings: NotifierSettings, stop: asyncio.Event) -> None:
    health = GrpcServer(settings.grpc_host, settings.health_port)
    await health.start()
    engine = make_engine(settings.database_url, pool_size=settings.database_pool_size, application_name="notifier")
    poster = Poster(
        timeout=settings.notifier_timeout,
        connect_timeout=settings.notifier_connect_timeout,
        allow_private=settings.allow_private,
        user_agent=settings.notifier_user_agent,
    )
    dispatcher = Dispatcher(settings, engine, senders(settings, poster))
    await wait_for_database(engine)
    nc = await dnats.connect(settings, "distill-notifier")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, settings, stages=())
    await tune_consumer(js, settings.notifier_ack_wait)
    core_metrics.serve(settings.metrics_port, settings.grpc_host)
    loops = [
        asyncio.create_task(intake_forever(js, engine, settings, dispatcher, stop)),
        asyncio.create_task(dispatcher.run(stop)),
        asyncio.create_task(purge_forever(engine, settings, stop)),
    ]
    await health.set_serving(True)
    log.info("notifier started", allow_private_networks=settings.allow_private, health_port=health.port)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({stopped, *loops}, return_when=asyncio.FIRST_COMPLETED)
    crashed = next((t.exception() for t in loops if t.done() and t.exception()), None)
    stop.set()
    await health.set_serving(False)
    await asyncio.gather(*loops, return_exceptions=True)
    await poster.close()
    await dnats.close(nc)
    await engine.dispose()
    await health.stop(1)
    if crashed is not None:
        raise crashed
