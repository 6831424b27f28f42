"""Oversized and over-frequent requests: each breach is INVALID_ARGUMENT or RESOURCE_EXHAUSTED
with a message naming the limit, and nothing is stored. The CreateTask rate limit holds
per tenant across gateway replicas (one bucket in PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from tests.integration.gateway_fixture import Gateway, running_gateway
from tests.security.attack import bearer, call, method
from tests.security.conftest import MAX_REQUEST_BYTES

pytestmark = pytest.mark.integration

CREATE = method("distill.v1.Pipeline.CreateTask")


def urls(n: int, length: int = 40) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"https://example.com/{tag}/{i}/".ljust(length, "a") for i in range(n)]


async def tasks_of(gw: Gateway, key: str) -> int:
    out = await call_ok(gw, method("distill.v1.Pipeline.ListTasks"), {}, key)
    return int(out.total_size)


async def call_ok(gw: Gateway, m: Any, request: dict[str, Any], key: str) -> Any:
    async with grpc.aio.insecure_channel(gw.address) as ch:
        out = await call(ch, m, request, bearer(key))
    assert out.code == grpc.StatusCode.OK, out
    return out.response


@pytest.mark.parametrize(
    ("request_", "code", "names"),
    [
        ({"urls": urls(1001)}, grpc.StatusCode.INVALID_ARGUMENT, ["1001", "the limit is 1000"]),
        ({"urls": urls(1, 2049)}, grpc.StatusCode.INVALID_ARGUMENT, ["2049", "the limit is 2048"]),
        ({"urls": ["ftp://example.com/x"]}, grpc.StatusCode.INVALID_ARGUMENT, ["only http and https"]),
        ({"urls": ["https://user:pw@example.com/"]}, grpc.StatusCode.INVALID_ARGUMENT, ["credentials"]),
        ({"urls": ["https://example.com/\r\nHost: evil"]}, grpc.StatusCode.INVALID_ARGUMENT, ["control characters"]),
        (
            {"urls": urls(1), "labels": {f"k{i}": "v" for i in range(33)}},
            grpc.StatusCode.INVALID_ARGUMENT,
            ["33", "limit is 32"],
        ),
        ({"urls": urls(1), "labels": {"k": "v" * 201}}, grpc.StatusCode.INVALID_ARGUMENT, ["201", "limit is 200"]),
        ({"urls": urls(1), "labels": {"K Y": "v"}}, grpc.StatusCode.INVALID_ARGUMENT, ["labels: key"]),
        ({"urls": urls(1), "idempotency_key": "k" * 201}, grpc.StatusCode.INVALID_ARGUMENT, ["200 characters"]),
        # Within every other limit, but larger than DISTILL_MAX_REQUEST_BYTES (the fixture's 256 KiB).
        (
            {"urls": urls(200, 1500)},
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            ["DISTILL_MAX_REQUEST_BYTES", f"limit is {MAX_REQUEST_BYTES} bytes"],
        ),
        # Over twice the limit: gRPC refuses it before it is even decoded.
        ({"urls": urls(1000, 2000)}, grpc.StatusCode.RESOURCE_EXHAUSTED, ["larger than max"]),
    ],
    ids=[
        "urls",
        "url-length",
        "scheme",
        "userinfo",
        "header-injection",
        "labels-count",
        "label-value",
        "label-key",
        "idempotency-key",
        "request-bytes",
        "request-bytes-grpc",
    ],
)
async def test_create_task_over_a_limit_is_refused_naming_it_and_stores_nothing(
    gw: Gateway, channel: grpc.aio.Channel, request_: dict[str, Any], code: grpc.StatusCode, names: list[str]
) -> None:
    _, key = await gw.tenant()
    out = await call(channel, CREATE, request_, bearer(key))
    assert out.code == code, out
    for n in names:
        assert n in out.details, f"{out.details!r} does not name {n!r}"
    assert await tasks_of(gw, key) == 0


async def test_other_rpcs_are_bounded_too(gw: Gateway, channel: grpc.aio.Channel) -> None:
    _, key = await gw.tenant()
    own = await call(channel, CREATE, {"urls": urls(1)}, bearer(key))
    cases = [
        ("distill.v1.Pipeline.ListTasks", {"page_size": 1001}, grpc.StatusCode.INVALID_ARGUMENT, "limit of 1000"),
        ("distill.v1.Pipeline.ListTasks", {"page_size": -1}, grpc.StatusCode.INVALID_ARGUMENT, "negative"),
        (
            "distill.v1.Pipeline.ListTasks",
            {"labels": {f"k{i}": "v" for i in range(33)}},
            grpc.StatusCode.INVALID_ARGUMENT,
            "limit is 32",
        ),
        (
            "distill.v1.Pipeline.WatchTasks",
            {"labels": {"k": "v" * 201}},
            grpc.StatusCode.INVALID_ARGUMENT,
            "limit is 200",
        ),
        (
            "distill.v1.Pipeline.RetryTask",
            {"id": own.response.id, "item_ids": [str(uuid.uuid4()) for _ in range(1001)]},
            grpc.StatusCode.INVALID_ARGUMENT,
            "limit is 1000",
        ),
        (
            "distill.v1.Notifications.CreateWebhook",
            {"url": "https://example.com/" + "a" * 2100},
            grpc.StatusCode.INVALID_ARGUMENT,
            "2048",
        ),
        (
            "distill.v1.Notifications.ListWebhooks",
            {"page_token": "x" * (MAX_REQUEST_BYTES + 10)},
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "DISTILL_MAX_REQUEST_BYTES",
        ),
    ]
    for name, req, code, says in cases:
        out = await call(channel, method(name), req, bearer(key))
        assert (out.code, says in out.details) == (code, True), f"{name}: {out}"
    # Without a key, a huge message is refused before anything else (by gRPC itself).
    huge = await call(channel, CREATE, {"urls": urls(1000, 2000)})
    assert huge.code == grpc.StatusCode.RESOURCE_EXHAUSTED


# --- CreateTask rate per tenant, over two replicas --------------------------------------

RATE, BURST = 1.0, 3


@pytest.fixture(scope="module")
async def replicas(nats_url: str, database_url: str) -> AsyncIterator[list[Gateway]]:
    knobs = {"create_task_rate": RATE, "create_task_burst": BURST}
    async with (
        running_gateway(nats_url, database_url, **knobs) as a,
        running_gateway(nats_url, database_url, **knobs) as b,
    ):
        yield [a, b]


async def test_create_task_rate_is_per_tenant_and_shared_by_replicas(replicas: list[Gateway]) -> None:
    a, b = replicas
    _, key = await a.tenant()
    _, other = await a.tenant()
    async with grpc.aio.insecure_channel(a.address) as ca, grpc.aio.insecure_channel(b.address) as cb:
        # BURST calls at once, alternating replicas: all accepted; the next one is refused by either.
        outs = [await call((ca, cb)[i % 2], CREATE, {"urls": urls(1)}, bearer(key)) for i in range(BURST)]
        assert [o.code for o in outs] == [grpc.StatusCode.OK] * BURST, outs
        refused = [await call(ch, CREATE, {"urls": urls(1)}, bearer(key)) for ch in (ca, cb)]
        for r in refused:
            assert r.code == grpc.StatusCode.RESOURCE_EXHAUSTED, r
            assert "DISTILL_CREATE_TASK_RATE" in r.details and f"at most {RATE:g} per second" in r.details
        # Another tenant has its own budget.
        assert (await call(cb, CREATE, {"urls": urls(1)}, bearer(other))).code == grpc.StatusCode.OK
        # The refusal says when to come back; then one more call is accepted.
        wait = float(refused[-1].details.rsplit("try again in ", 1)[1].split(" s")[0])
        assert 0 < wait <= 1 / RATE + 0.1
        await asyncio.sleep(wait + 0.05)
        assert (await call(ca, CREATE, {"urls": urls(1)}, bearer(key))).code == grpc.StatusCode.OK
        # A call with an idempotency key is counted apart from the insert, in the same bucket.
        keyed = await call(cb, CREATE, {"urls": urls(1), "idempotency_key": "k-1"}, bearer(key))
        assert keyed.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "DISTILL_CREATE_TASK_RATE" in keyed.details, keyed
        await asyncio.sleep(1 / RATE + 0.05)
        again = await call(cb, CREATE, {"urls": urls(1), "idempotency_key": "k-1"}, bearer(key))
        assert again.code == grpc.StatusCode.OK, again
    assert await tasks_of(a, key) == BURST + 2, "a refused call stored a task"
