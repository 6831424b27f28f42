"""An attacker without a valid key: every RPC of every public service refuses them the same way,
and nothing they send is stored. Health and reflection stay open (probes, grpcurl).

Keys are made as an operator would: with `distill keys` against the database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from distill_core import apikeys
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.integration.gateway_fixture import Gateway
from tests.security.attack import bearer, call, method, public_methods

pytestmark = pytest.mark.integration

UNAUTHENTICATED = "missing or invalid API key (send 'authorization: Bearer <key>')"


def distill_keys(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`distill keys ...` as an operator runs it, against the test database."""
    exe = Path(sys.executable).parent / "distill"
    env = dict(os.environ, DISTILL_DATABASE_URL=database_url)
    return subprocess.run([str(exe), "keys", *args], capture_output=True, text=True, env=env, timeout=120)


async def task_count(gw: Gateway) -> int:
    return int((await gw.sql("SELECT count(*) AS n FROM tasks"))[0]["n"])


async def key_for(gw: Gateway, **kw: object) -> tuple[str, str]:
    """(tenant name, key) of a fresh tenant."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    async with gw.engine.begin() as conn:
        key, _ = await apikeys.create_key(conn, name, **kw)  # type: ignore[arg-type]
    return name, key


async def test_every_rpc_refuses_missing_malformed_unknown_revoked_and_expired_keys_alike(
    gw: Gateway, channel: grpc.aio.Channel
) -> None:
    _, good = await key_for(gw)
    _, revoked = await key_for(gw)
    async with gw.engine.begin() as conn:
        assert await apikeys.revoke(conn, revoked) == 1
    _, expiring = await key_for(gw, expires_at=datetime.now(UTC) + timedelta(seconds=1))
    await asyncio.sleep(1.2)
    wrong_secret = good[: apikeys.PREFIX_LEN] + "x" * (len(good) - apikeys.PREFIX_LEN)  # a real prefix, a wrong key
    attempts = {
        "no metadata": [],
        "empty bearer": [("authorization", "Bearer ")],
        "basic auth": [("authorization", "Basic " + good)],
        "key without scheme": [("authorization", good)],
        "another header": [("x-api-key", good)],
        "malformed key": bearer("dk_short"),
        "oversized key": bearer("dk_" + "a" * 5000),
        "unknown well-formed key": bearer(apikeys.generate_key()),
        "right prefix, wrong secret": bearer(wrong_secret),
        "revoked key": bearer(revoked),
        "expired key": bearer(expiring),
        "SQL in the key": bearer("dk_' OR '1'='1' --_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    }
    before = await task_count(gw)
    for m in public_methods():
        for what, md in attempts.items():
            out = await call(channel, m, {}, md)
            assert out.shape == (grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED), f"{m.full_name} with {what}: {out}"
    # The same refusal for a CreateTask that would otherwise be valid, and nothing stored.
    create = method("distill.v1.Pipeline.CreateTask")
    for what, md in attempts.items():
        out = await call(channel, create, {"urls": ["https://example.com/a"]}, md)
        assert out.code == grpc.StatusCode.UNAUTHENTICATED, what
    assert await task_count(gw) == before, "a refused call stored a task"
    # The control: the good key gets through, by any capitalisation of the scheme.
    out = await call(channel, method("distill.v1.Pipeline.ListTasks"), {}, [("authorization", f"bEaReR {good}")])
    assert out.code == grpc.StatusCode.OK, out


async def test_health_and_reflection_need_no_key(gw: Gateway, channel: grpc.aio.Channel) -> None:
    health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    async for a in answers:
        names = {s.name for s in a.list_services_response.service}
        assert {"distill.v1.Pipeline", "distill.v1.Admin", "distill.v1.Notifications"} <= names
        break


async def test_keys_made_with_the_cli_work_until_revoked(gw: Gateway, channel: grpc.aio.Channel) -> None:
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    made = await asyncio.to_thread(distill_keys, gw.settings.database_url, "create", "--tenant", tenant)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("dk_") and len(key) == 45
    list_tasks = method("distill.v1.Pipeline.ListTasks")
    assert (await call(channel, list_tasks, {}, bearer(key))).code == grpc.StatusCode.OK
    # Only the hash is stored: the key itself is nowhere in the database.
    rows = await gw.sql("SELECT * FROM api_keys WHERE prefix = :p", p=key[: apikeys.PREFIX_LEN])
    assert len(rows) == 1 and key not in json.dumps(rows, default=str)

    revoked = await asyncio.to_thread(distill_keys, gw.settings.database_url, "revoke", key[: apikeys.PREFIX_LEN])
    assert revoked.returncode == 0 and "revoked 1 key" in revoked.stdout, revoked.stderr
    out = await call(channel, list_tasks, {}, bearer(key))
    assert out.shape == (grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED), "a revoked key still works"


async def test_cli_expiry_and_admin_scope(gw: Gateway, channel: grpc.aio.Channel) -> None:
    tenant = f"ops-{uuid.uuid4().hex[:8]}"
    url = gw.settings.database_url
    made = await asyncio.to_thread(distill_keys, url, "create", "--tenant", tenant, "--admin", "--expires", "2h")
    assert made.returncode == 0, made.stderr
    admin_key = made.stdout.strip()
    listed = await asyncio.to_thread(distill_keys, url, "list", "--tenant", tenant, "--json")
    assert admin_key not in listed.stdout, "`keys list` shows a whole key"
    [row] = json.loads(listed.stdout)
    assert row["admin"] is True and row["prefix"] == admin_key[: apikeys.PREFIX_LEN]
    left = datetime.fromisoformat(row["expires_at"]) - datetime.now(UTC)
    assert timedelta(hours=1, minutes=58) < left <= timedelta(hours=2)
    bad = await asyncio.to_thread(distill_keys, url, "create", "--tenant", tenant, "--expires", "yesterday-ish")
    assert bad.returncode == 1 and "--expires" in bad.stderr

    _, plain = await key_for(gw)
    for name in ("distill.v1.Admin.ListWorkers", "distill.v1.Admin.GetQueueStats"):
        refused = await call(channel, method(name), {}, bearer(plain))
        assert refused.code == grpc.StatusCode.PERMISSION_DENIED, refused
        assert "admin API key" in refused.details and "--admin" in refused.details
        assert (await call(channel, method(name), {}, bearer(admin_key))).code == grpc.StatusCode.OK
    # Tenant data stays per tenant for admins too: the admin's statistics are its own (none).
    stats = await call(channel, method("distill.v1.Admin.GetStatistics"), {}, bearer(admin_key))
    assert stats.code == grpc.StatusCode.OK and stats.response.tasks_created == 0


async def test_a_key_value_of_another_tenant_cannot_be_claimed(gw: Gateway) -> None:
    """DISTILL_DEV_API_KEY-style chosen keys: choosing a value another tenant holds is refused."""
    value = f"chosen-key-{uuid.uuid4().hex}"
    async with gw.engine.begin() as conn:
        await apikeys.create_key(conn, f"a-{uuid.uuid4().hex[:6]}", key=value)
    async with gw.engine.begin() as conn:
        with pytest.raises(ValueError, match="belongs to another tenant"):
            await apikeys.create_key(conn, f"b-{uuid.uuid4().hex[:6]}", key=value)
