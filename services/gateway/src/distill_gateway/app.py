"""The gateway process: gRPC API, outbox relay, metrics."""

from __future__ import annotations

import asyncio
import contextlib

from distill.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    notifications_pb2,
    notifications_pb2_grpc,
    pipeline_pb2,
    pipeline_pb2_grpc,
)
from distill_core import metrics
from distill_core import nats as dnats
from distill_core.db.session import driver_dsn, make_engine, wait_for_database
from distill_core.grpc_server import GrpcServer, server_credentials
from distill_core.logging import get_logger
from distill_core.settings import GatewaySettings

from distill_gateway import limits, queue_gauges
from distill_gateway.admin import AdminServicer
from distill_gateway.auth import Authenticator, KeyCache
from distill_gateway.dispatch import relay_forever
from distill_gateway.janitor import Janitor
from distill_gateway.notifications import NotificationsServicer
from distill_gateway.pipeline import PipelineServicer
from distill_gateway.web.server import start_http

log = get_logger("gateway")


async def serve(settings: GatewaySettings, stop: asyncio.Event) -> None:
    engine = make_engine(
        settings.database_url, pool_size=settings.database_pool_size, application_name="distill-gateway"
    )
    await wait_for_database(engine)
    nc = await dnats.connect(settings, "distill-gateway")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, settings)
    keys = KeyCache(driver_dsn(settings.database_url), settings.auth_cache_seconds)
    key_listener = asyncio.create_task(keys.run())
    auth = Authenticator(engine, keys)  # one memory of keys for every service of this process
    pipeline = PipelineServicer(settings, engine, js, nc, auth=auth)
    admin = AdminServicer(settings, engine, js, pipeline.redispatch, auth=auth)
    notifications = NotificationsServicer(settings, engine, auth=auth)
    server = GrpcServer(
        settings.grpc_host,
        settings.grpc_port,
        services=[
            (
                pipeline_pb2_grpc.add_PipelineServicer_to_server,
                pipeline,
                pipeline_pb2.DESCRIPTOR.services_by_name["Pipeline"].full_name,
            ),
            (
                admin_pb2_grpc.add_AdminServicer_to_server,
                admin,
                admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name,
            ),
            (
                notifications_pb2_grpc.add_NotificationsServicer_to_server,
                notifications,
                notifications_pb2.DESCRIPTOR.services_by_name["Notifications"].full_name,
            ),
        ],
        max_receive_bytes=limits.grpc_receive_limit(settings),
        credentials=server_credentials(settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file),
    )
    await server.start()
    http = await start_http(settings, pipeline, notifications)  # None unless DISTILL_HTTP_PORT
    metrics.serve(settings.metrics_port, settings.grpc_host)
    relay = asyncio.create_task(relay_forever(js, engine, settings.outbox_delay, settings.outbox_interval))
    janitor = asyncio.create_task(Janitor(settings, engine, js).run_forever())
    gauges = asyncio.create_task(
        queue_gauges.collect_forever(js, engine, settings.worker_ttl, settings.queue_metrics_interval)
    )
    await server.set_serving(True)
    log.info(
        "gateway serving",
        grpc=f"{settings.grpc_host}:{server.port}",
        tls="mtls" if settings.tls_client_ca_file else ("tls" if server.tls else "off"),
        metrics_port=settings.metrics_port,
    )
    await stop.wait()
    log.info("gateway stopping")
    await asyncio.gather(server.stop(grace=5.0), *([http.stop()] if http else []))
    await pipeline.marks.drain()
    janitor.cancel()
    gauges.cancel()
    relay.cancel()
    key_listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await relay
    with contextlib.suppress(asyncio.CancelledError):
        await key_listener
    await dnats.close(nc)
    await engine.dispose()
