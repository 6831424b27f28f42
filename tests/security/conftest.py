"""Fixtures of the attacker tests: a real gateway (in this event loop, on real NATS and
PostgreSQL) with small limits, and raw channels to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from tests.integration.gateway_fixture import Gateway, running_gateway

# Small enough to reach in a test, large enough for the tests' legitimate calls.
RATE, BURST, MAX_REQUEST_BYTES = 2.0, 5, 256 * 1024


@pytest.fixture(scope="module")
async def gw(nats_url: str, database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(
        nats_url, database_url, create_task_rate=RATE, create_task_burst=BURST, max_request_bytes=MAX_REQUEST_BYTES
    ) as g:
        yield g


@pytest.fixture(scope="module")
async def channel(gw: Gateway) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(gw.address, options=[("grpc.max_send_message_length", 64 << 20)]) as ch:
        yield ch
