"""The gateway through a PostgreSQL outage: UNAVAILABLE while it is down, served again after."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from distill_cli.embedded import PostgresServer
from distill_client import AsyncClient, DistillClientError
from distill_core.db.migrate import upgrade

from tests.integration.gateway_fixture import running_gateway, urls

pytestmark = pytest.mark.integration


async def test_database_outage_is_unavailable_then_recovers(nats_url: str, tmp_path: Path) -> None:
    pg = PostgresServer(tmp_path / "pg").start()  # durable: a crash must not lose commits
    try:
        upgrade(pg.url)
        async with running_gateway(nats_url, pg.url) as gw:
            _, key = await gw.tenant()
            async with AsyncClient(gw.address, key, timeout=15) as client:
                task = await client.submit(urls(1, "outage"))
                await asyncio.to_thread(pg.kill)
                with pytest.raises(DistillClientError) as e:
                    await client.get_task(task.id)
                assert e.value.code == grpc.StatusCode.UNAVAILABLE
                assert "database is unavailable" in e.value.message
                await asyncio.to_thread(pg.start)
                for _ in range(50):  # the pool notices the restart on its next checkout
                    try:
                        again = await client.get_task(task.id)
                        break
                    except DistillClientError as err:
                        assert err.code == grpc.StatusCode.UNAVAILABLE
                        await asyncio.sleep(0.2)
                assert again.id == task.id
    finally:
        pg.stop()
