"""The gateway with its HTTP side on (in-process `serve()`), and a Server-Sent Events reader."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from distill_cli.embedded import free_port

from tests.integration.gateway_fixture import Gateway, running_gateway


@dataclass
class Event:
    event: str
    id: str | None
    data: Any
    retry: int | None = None


async def sse_events(response: httpx.Response) -> AsyncIterator[Event]:
    """Events of a text/event-stream response, parsed as the HTML standard says (data is JSON here)."""
    name, data, eid, retry = "message", [], None, None
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield Event(name, eid, json.loads("\n".join(data)), retry)
            name, data, eid, retry = "message", [], None, None
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
        elif field == "id":
            eid = value
        elif field == "retry":
            retry = int(value)


@dataclass
class HttpGateway:
    gw: Gateway
    base: str

    def client(self, key: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.base, headers=headers, timeout=15)


@contextlib.asynccontextmanager
async def running_http_gateway(nats_url: str, database_url: str, **overrides: Any) -> AsyncIterator[HttpGateway]:
    port = free_port()
    async with running_gateway(nats_url, database_url, http_port=port, **overrides) as gw:
        yield HttpGateway(gw, f"http://127.0.0.1:{port}")


@pytest.fixture(name="http")
async def http_fixture(web: HttpGateway) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh tenant of the module's `web` gateway."""
    _, key = await web.gw.tenant()
    async with web.client(key) as c:
        yield c
