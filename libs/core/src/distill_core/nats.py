"""One long-lived NATS connection per process, and the JetStream topology.

`ensure_topology` is idempotent: every service calls it at start-up, so whichever starts
first creates the streams and consumers and the rest find them in place.
"""

from __future__ import annotations

import asyncio
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js import api as jsapi
from nats.js.errors import BadRequestError, NotFoundError

from distill_core import nats_auth, subjects
from distill_core.logging import get_logger
from distill_core.settings import Settings

log = get_logger(__name__)

NANOS = 1_000_000_000


async def connect(settings: Settings, name: str) -> NATS:
    """Connect with endless reconnects (a NATS restart is survived, not fatal)."""

    slow_logged: dict[int, float] = {}

    async def on_error(e: Exception) -> None:
        if isinstance(e, nats.errors.SlowConsumerError):  # one per dropped message: say it once a minute
            now = asyncio.get_running_loop().time()
            if now - slow_logged.get(e.sid, -60.0) < 60.0:
                return
            slow_logged[e.sid] = now
            if len(slow_logged) > 10_000:
                slow_logged.clear()
            log.warning("nats slow consumer: messages dropped", subject=e.subject, sid=e.sid)
            return
        log.warning("nats error", error=str(e))

    async def on_disconnect() -> None:
        log.warning("nats disconnected")

    async def on_reconnect() -> None:
        log.info("nats reconnected")

    opts: dict[str, Any] = dict(
        servers=settings.nats_servers,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        ping_interval=10,
        max_outstanding_pings=3,
        pending_size=64 * 1024 * 1024,
        drain_timeout=5,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
    )
    if settings.nats_creds:
        opts["user_credentials"] = str(settings.nats_creds)
    elif settings.nats_user:
        opts["user"] = settings.nats_user
        opts["password"] = settings.nats_password.get_secret_value() if settings.nats_password else ""
    if settings.nats_user:  # replies to this user only (nats_auth: each user subscribes to its own inboxes)
        opts["inbox_prefix"] = nats_auth.inbox_prefix(settings.nats_user)
    delay = 0.2
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        try:
            return await nats.connect(**opts)
        except Exception as e:  # first connection: retry until the server is up
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.info("waiting for nats", error=str(e))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def jetstream(nc: NATS) -> JetStreamContext:
    return nc.jetstream(timeout=10)


async def _add_or_update_stream(js: JetStreamContext, config: jsapi.StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except BadRequestError as e:
        if e.err_code == 10058:  # stream name already in use with a different configuration
            await js.update_stream(config)
        else:
            raise


def stream_configs(settings: Settings) -> list[jsapi.StreamConfig]:
    return [
        jsapi.StreamConfig(
            name=subjects.JOBS_STREAM,
            subjects=[f"{subjects.JOBS_PREFIX}.>"],
            retention=jsapi.RetentionPolicy.WORK_QUEUE,
            storage=jsapi.StorageType.FILE,
            num_replicas=settings.stream_replicas,
            duplicate_window=120.0,
            max_msg_size=64 * 1024,
        ),
        jsapi.StreamConfig(
            name=subjects.EVENTS_STREAM,
            subjects=[f"{subjects.EVENTS_PREFIX}.>"],
            retention=jsapi.RetentionPolicy.LIMITS,
            storage=jsapi.StorageType.FILE,
            num_replicas=settings.stream_replicas,
            max_age=settings.events_max_age,
            duplicate_window=120.0,
            republish=jsapi.RePublish(src=f"{subjects.EVENTS_PREFIX}.>", dest=f"{subjects.LIVE_PREFIX}.>"),
        ),
        jsapi.StreamConfig(
            name=subjects.ADVISORIES_STREAM,
            subjects=[f"{subjects.ADVISORIES_PREFIX}.>"],
            retention=jsapi.RetentionPolicy.LIMITS,
            storage=jsapi.StorageType.FILE,
            num_replicas=settings.stream_replicas,
            max_age=settings.dead_letter_max_age,
        ),
        jsapi.StreamConfig(
            name=subjects.DLQ_STREAM,
            subjects=[f"{subjects.DLQ_PREFIX}.>"],
            retention=jsapi.RetentionPolicy.LIMITS,
            storage=jsapi.StorageType.FILE,
            num_replicas=settings.stream_replicas,
            max_age=settings.dead_letter_max_age,
        ),
        upload_store_config(settings),
    ]


def upload_store_config(settings: Settings) -> jsapi.StreamConfig:
    """The uploaded-files bucket: the stream nats-py's create_object_store would make, with a
    size cap (DISTILL_UPLOAD_STORE_MAX_BYTES; when full, new uploads are refused)."""
    return jsapi.StreamConfig(
        name=subjects.UPLOADS_STREAM,
        subjects=[subjects.upload_chunks_subject(">"), f"$O.{subjects.UPLOADS_BUCKET}.M.>"],
        retention=jsapi.RetentionPolicy.LIMITS,
        storage=jsapi.StorageType.FILE,
        num_replicas=settings.stream_replicas,
        max_bytes=settings.upload_store_max_bytes or -1,
        max_msg_size=1024 * 1024,
        discard=jsapi.DiscardPolicy.NEW,
        allow_rollup_hdrs=True,
        allow_direct=True,
    )


def consumer_config(settings: Settings, stage: str, priority: str) -> jsapi.ConsumerConfig:
    st = settings.stage(stage)
    return jsapi.ConsumerConfig(
        durable_name=subjects.job_consumer(stage, priority),
        filter_subject=subjects.job_subject(stage, priority),
        ack_policy=jsapi.AckPolicy.EXPLICIT,
        deliver_policy=jsapi.DeliverPolicy.ALL,
        ack_wait=st.effective_ack_wait,
        # Retries are counted in PostgreSQL (a Retry-After wait does not use an attempt);
        # this is the backstop for a job whose worker dies every time (the advisory fires).
        max_deliver=st.max_attempts * 3 + 3,
        max_ack_pending=-1,
        max_waiting=512,
    )


def report_consumer_config(ack_wait: float) -> jsapi.ConsumerConfig:
    """The report workers' durable on JOBS. Attempts are counted in PostgreSQL
    (reports.attempts, capped by the worker), so JetStream redelivers without a limit of its own."""
    return jsapi.ConsumerConfig(
        durable_name=subjects.REPORT_CONSUMER,
        filter_subject=subjects.REPORT_SUBJECT,
        ack_policy=jsapi.AckPolicy.EXPLICIT,
        deliver_policy=jsapi.DeliverPolicy.ALL,
        ack_wait=ack_wait,
        max_deliver=-1,
        max_ack_pending=-1,
        max_waiting=512,
    )


def notifier_consumer_config() -> jsapi.ConsumerConfig:
    """The notifier's durable on EVENTS: created with the streams, so no event is missed
    between the first service starting and the notifier starting."""
    return jsapi.ConsumerConfig(
        durable_name=subjects.NOTIFIER_CONSUMER,
        ack_policy=jsapi.AckPolicy.EXPLICIT,
        deliver_policy=jsapi.DeliverPolicy.NEW,
        ack_wait=60.0,
        max_deliver=-1,
        max_ack_pending=10_000,
    )


async def ensure_topology(js: JetStreamContext, settings: Settings, stages: tuple[str, ...] = subjects.STAGES) -> None:
    """Create or update the streams, the notifier's consumer and the durable consumers of `stages`."""
    for cfg in stream_configs(settings):
        await _add_or_update_stream(js, cfg)
    try:
        await js.consumer_info(subjects.EVENTS_STREAM, subjects.NOTIFIER_CONSUMER)
    except NotFoundError:
        await js.add_consumer(subjects.EVENTS_STREAM, notifier_consumer_config())
    for stage in stages:
        await _ensure_consumer(
            js,
            subjects.ADVISORIES_STREAM,
            jsapi.ConsumerConfig(
                durable_name=subjects.advisory_consumer(stage),
                filter_subjects=[
                    subjects.max_deliveries_advisory(subjects.job_consumer(stage, p)) for p in subjects.PRIORITIES
                ],
                ack_policy=jsapi.AckPolicy.EXPLICIT,
                deliver_policy=jsapi.DeliverPolicy.ALL,
                ack_wait=60.0,
                max_deliver=-1,
            ),
        )
        for prio in subjects.PRIORITIES:
            cfg = consumer_config(settings, stage, prio)
            try:
                await js.add_consumer(subjects.JOBS_STREAM, cfg)
            except BadRequestError as e:
                if e.err_code in (10148, 10013):  # exists with other config: update in place
                    await js.add_consumer(subjects.JOBS_STREAM, cfg)
                else:
                    raise


async def _ensure_consumer(js: JetStreamContext, stream: str, cfg: jsapi.ConsumerConfig) -> None:
    await js.add_consumer(stream, cfg)


async def stream_last_seq(js: JetStreamContext, stream: str, subject: str | None = None) -> int:
    """The last sequence in `stream` (of `subject`, when given); 0 when empty."""
    if subject:
        try:
            msg = await js.get_last_msg(stream, subject)
            return int(msg.seq or 0)
        except NotFoundError:
            return 0
    info = await js.stream_info(stream)
    return int(info.state.last_seq)


async def close(nc: NATS, timeout: float = 5.0) -> None:
    """Drain (flush what we published, stop subscriptions), but never hang a shutdown on it."""
    try:
        await asyncio.wait_for(nc.drain(), timeout)
    except Exception:
        pass
    if not nc.is_closed:
        try:
            await nc.close()
        except Exception:
            pass
