"""The gateway process's `serve()` in this event loop, on real NATS and PostgreSQL, with no workers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from distill_cli.embedded import free_port
from distill_client import AsyncClient
from distill_core import nats as dnats
from distill_core.db.session import make_engine
from distill_core.settings import GatewaySettings
from distill_gateway.app import serve
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js import JetStreamContext
from sqlalchemy import text

from tests.helpers import make_tenant


@dataclass
class Gateway:
    address: str
    settings: GatewaySettings
    engine: Any
    js: JetStreamContext
    nc: Any
    tenants: list[str] = field(default_factory=list)

    async def tenant(self) -> tuple[str, str]:
        """(tenant id, API key) of a fresh tenant."""
        tenant, key = await make_tenant(self.engine)
        self.tenants.append(tenant)
        return tenant, key

    async def finish_everything(self) -> None:
        """End the work these tests left unfinished (no worker ever ran it), so that later
        tests sharing the database, the janitor's say, find no orphans of ours."""
        await self.sql(
            "UPDATE items SET status = 'cancelled', finished_at = now() "
            "WHERE tenant_id = ANY(:t) AND status IN ('pending', 'running')",
            t=self.tenants,
        )
        await self.sql(
            "UPDATE tasks SET status = 'cancelled', finished_at = now() "
            "WHERE tenant_id = ANY(:t) AND finished_at IS NULL",
            t=self.tenants,
        )

    async def sql(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        async with self.engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return [dict(r._mapping) for r in result] if result.returns_rows else []


@contextlib.asynccontextmanager
async def running_gateway(
    nats_url: str, database_url: str, *, probe_credentials: grpc.ChannelCredentials | None = None, **overrides: Any
) -> AsyncIterator[Gateway]:
    """probe_credentials: how to reach a gateway with TLS on (tls_* overrides) for the health check."""
    settings = GatewaySettings(
        nats_url=nats_url,
        database_url=database_url,
        grpc_port=free_port(),
        service_name="gateway-test",
        **overrides,
    )
    stop = asyncio.Event()
    served = asyncio.create_task(serve(settings, stop))
    address = f"127.0.0.1:{settings.grpc_port}"
    probe = grpc.aio.secure_channel(address, probe_credentials) if probe_credentials else None
    async with probe or grpc.aio.insecure_channel(address) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for _ in range(200):
            if served.done():
                served.result()  # raises what went wrong
            with contextlib.suppress(grpc.RpcError):
                r = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if r.status == health_pb2.HealthCheckResponse.SERVING:
                    break
            await asyncio.sleep(0.05)
    nc = await dnats.connect(settings, "gateway-test-client")
    engine = make_engine(database_url, pool_size=2)
    gw = Gateway(address, settings, engine, dnats.jetstream(nc), nc)
    try:
        yield gw
    finally:
        await gw.finish_everything()
        stop.set()
        await asyncio.wait_for(served, 30)
        await engine.dispose()
        await nc.close()


def urls(n: int, tag: str = "") -> list[str]:
    return [f"https://example.com/{tag}{uuid.uuid4().hex[:8]}/{i}" for i in range(n)]


async def fail_item(gw: Gateway, item_id: str, stage: str, code: str) -> None:
    """Make an item FAILED at `stage` as the runner would: item, phase and dead-letter record."""
    err = f'{{"code": "{code}", "message": "boom", "retryable": true, "stage": "{stage}", "attempt": 1}}'
    await gw.sql(
        "UPDATE items SET status = 'failed', current_stage = :s, error = CAST(:e AS jsonb), finished_at = now(), "
        "dispatched_at = now() WHERE id = :i",
        s=stage,
        e=err,
        i=uuid.UUID(item_id),
    )
    await gw.sql(
        "INSERT INTO phases (item_id, stage, task_id, tenant_id, status, attempts, progress, error, error_code, "
        "started_at, finished_at) SELECT id, :s, task_id, tenant_id, 'failed', 2, 0, CAST(:e AS jsonb), :c, "
        "now(), now() FROM items WHERE id = :i",
        s=stage,
        e=err,
        c=code,
        i=uuid.UUID(item_id),
    )
    await gw.sql(
        "INSERT INTO dead_letters (id, tenant_id, task_id, item_id, stage, error, error_code, deliveries, job) "
        "SELECT gen_random_uuid(), tenant_id, task_id, id, :s, CAST(:e AS jsonb), :c, 2, '' FROM items WHERE id = :i",
        s=stage,
        e=err,
        c=code,
        i=uuid.UUID(item_id),
    )


@pytest.fixture(name="client")
async def client_fixture(gw: Gateway) -> AsyncIterator[AsyncClient]:
    """A client of a fresh tenant of the module's `gw` gateway."""
    _, key = await gw.tenant()
    async with AsyncClient(gw.address, key) as c:
        yield c
