"""Admin RPCs of the real gateway (in-process), real NATS and PostgreSQL, no stage workers:
workers from KV heartbeats, queue lanes, statistics, dead letters."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from distill.internal.v1 import jobs_pb2
from distill.v1 import admin_pb2, common_pb2, task_pb2
from distill_client import AsyncClient, InvalidArgument
from distill_core import apikeys, subjects
from distill_core.events import OutMsg, publish_all
from distill_core.runner.presence import worker_key, workers_bucket

from tests.integration.gateway_fixture import Gateway, client_fixture, fail_item, running_gateway, urls  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def gw(nats_url: str, database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(nats_url, database_url, worker_ttl=15) as g:
        yield g


@pytest.fixture
async def operator(gw: Gateway) -> AsyncIterator[AsyncClient]:
    """A client with an admin key: workers and queue lanes are deployment-wide views (docs/security.md)."""
    async with gw.engine.begin() as conn:
        key, _ = await apikeys.create_key(conn, f"ops-{uuid.uuid4().hex[:8]}", admin=True)
    async with AsyncClient(gw.address, key) as c:
        yield c


async def test_list_workers_shows_live_heartbeats_only(gw: Gateway, operator: AsyncClient) -> None:
    kv = await workers_bucket(gw.js, 15)
    tag = uuid.uuid4().hex[:6]
    now = time.time()
    for stage, name, age in (("parse", f"p-{tag}", 1), ("ai", f"a-{tag}", 2), ("notion", f"n-{tag}", 40)):
        hb = jobs_pb2.WorkerHeartbeat(
            name=name, stage=subjects.STAGE_ENUM[stage], host="h1", pid=4242, state=2, current_item_ids=["i1"]
        )
        hb.processed_count, hb.failed_count, hb.concurrency = 10, 2, 8
        hb.last_seen_time.FromMicroseconds(int((now - age) * 1e6))
        hb.start_time.FromSeconds(int(now) - 60)
        await kv.put(worker_key(stage, name), hb.SerializeToString())
    try:
        mine = [w for w in (await operator.list_workers()).workers if w.name.endswith(tag)]
        assert [w.name for w in mine] == [f"p-{tag}", f"a-{tag}"]  # the one silent for 40 s is gone
        p = mine[0]
        assert (p.stage, p.host, p.pid, p.state) == (common_pb2.STAGE_PARSE, "h1", 4242, admin_pb2.WORKER_STATE_BUSY)
        assert (list(p.current_item_ids), p.processed_count, p.failed_count, p.concurrency) == (["i1"], 10, 2, 8)
        only_ai = [w.name for w in (await operator.list_workers(stage="ai")).workers if w.name.endswith(tag)]
        assert only_ai == [f"a-{tag}"]
    finally:
        for stage, name in (("parse", f"p-{tag}"), ("ai", f"a-{tag}"), ("notion", f"n-{tag}")):
            await kv.delete(worker_key(stage, name))
    assert not [w for w in (await operator.list_workers()).workers if w.name.endswith(tag)]


async def test_queue_stats_per_stage_and_lane(gw: Gateway, operator: AsyncClient) -> None:
    await gw.js.purge_stream(subjects.JOBS_STREAM)
    jobs = [
        OutMsg(subjects.job_subject("ai", "low"), jobs_pb2.Job(item_id=str(uuid.uuid4())).SerializeToString())
        for _ in range(3)
    ]
    await publish_all(gw.js, jobs)
    await asyncio.sleep(1.1)
    stats = await operator.queue_stats()
    lanes = {(ln.stage, ln.priority): ln for ln in stats.lanes}
    assert len(lanes) == 9
    low = lanes[(common_pb2.STAGE_AI, common_pb2.PRIORITY_LOW)]
    assert low.pending == 3 and low.ack_pending == 0
    assert 1.0 <= low.oldest_age.seconds + low.oldest_age.nanos / 1e9 < 60
    high = lanes[(common_pb2.STAGE_AI, common_pb2.PRIORITY_HIGH)]
    assert high.pending == 0 and high.oldest_age.seconds == 0
    await gw.js.purge_stream(subjects.JOBS_STREAM)


async def test_statistics_count_by_stage_and_code_and_sum_ai_usage(gw: Gateway, client: AsyncClient) -> None:
    task = await client.submit(urls(4))
    items = [it async for it in client.iter_items(task.id)]
    tenant = (await gw.sql("SELECT tenant_id FROM tasks WHERE id = :t", t=uuid.UUID(task.id)))[0]["tenant_id"]
    for it in items[:3]:  # three parsed fine in 2 s each; two of them also went through the AI stage
        await gw.sql(
            "INSERT INTO phases (item_id, stage, task_id, tenant_id, status, attempts, progress, started_at, "
            "finished_at, duration_ms) VALUES (:i, 'parse', :t, :tenant, 'succeeded', 1, 100, now(), now(), 2000)",
            i=uuid.UUID(it.id),
            t=uuid.UUID(task.id),
            tenant=tenant,
        )
    for it in items[:2]:
        await gw.sql(
            "INSERT INTO ai_outputs (id, tenant_id, item_id, keywords, insights, provider, model, usage, no_content) "
            "VALUES (gen_random_uuid(), :tenant, :i, '{}', '{}', 'local', 'm', CAST(:u AS jsonb), false)",
            tenant=tenant,
            i=uuid.UUID(it.id),
            u='{"prompt_tokens": 100, "completion_tokens": 20, "requests": 1, "latency_ms": 250}',
        )
    await gw.sql("UPDATE items SET status = 'succeeded' WHERE id = ANY(:ids)", ids=[uuid.UUID(i.id) for i in items[:3]])
    await fail_item(gw, items[3].id, "parse", "HTTP_NOT_FOUND")

    s = await client.statistics("1h")
    assert (s.tasks_created, s.items_created, s.items_succeeded, s.items_failed) == (1, 4, 3, 1)
    assert s.success_rate == 0.75 and dict(s.failures_by_code) == {"HTTP_NOT_FOUND": 1}
    parse = s.stages[0]
    assert parse.stage == common_pb2.STAGE_PARSE
    assert (parse.started, parse.succeeded, parse.failed) == (4, 3, 1)
    assert parse.success_rate == 0.75 and dict(parse.failures_by_code) == {"HTTP_NOT_FOUND": 1}
    assert parse.mean_duration_seconds == 2.0
    u = s.ai_usage
    assert (u.prompt_tokens, u.completion_tokens, u.requests, u.latency_ms) == (200, 40, 2, 500)
    assert s.end_time.seconds - s.start_time.seconds == 3600
    # Another tenant sees none of it.
    _, other_key = await gw.tenant()
    async with AsyncClient(gw.address, other_key) as other:
        assert (await other.statistics()).items_created == 0
    with pytest.raises(InvalidArgument, match="negative"):
        await client.statistics(-5)


async def test_dead_letters_list_replay_purge(gw: Gateway, client: AsyncClient) -> None:
    task = await client.submit(urls(5), priority="high")
    items = [it async for it in client.iter_items(task.id)]
    for n, it in enumerate(items):
        await fail_item(gw, it.id, "parse" if n < 3 else "notion", "HTTP_SERVER_ERROR" if n % 2 else "TIMEOUT")
    pages = []
    page = await client.list_dead_letters(page_size=2)
    while True:
        assert page.total_size == 5
        pages.append([d.id for d in page.dead_letters])
        if not page.next_page_token:
            break
        page = await client.list_dead_letters(page_size=2, page_token=page.next_page_token)
    ids = [i for p in pages for i in p]
    assert [len(p) for p in pages] == [2, 2, 1] and len(set(ids)) == 5
    dl = [d async for d in client.iter_dead_letters()]
    assert {d.input for d in dl} == {it.input for it in items}
    assert {d.error.code for d in dl} == {"TIMEOUT", "HTTP_SERVER_ERROR"}
    notion = [d async for d in client.iter_dead_letters(stage="export")]
    assert len(notion) == 2 and all(d.stage == common_pb2.STAGE_NOTION for d in notion)
    assert len([d async for d in client.iter_dead_letters(error_code="TIMEOUT")]) == 3
    with pytest.raises(InvalidArgument, match="another query"):
        await client.list_dead_letters(
            stage="parse", page_token=(await client.list_dead_letters(page_size=1)).next_page_token
        )

    # Replay one: its item runs again from the stage that failed, the record goes.
    r = await client.replay_dead_letters([notion[0].id])
    assert (r.replayed_count, r.skipped_count) == (1, 0)
    item = await client.get_item(notion[0].item_id)
    assert item.status == task_pb2.ITEM_STATUS_PENDING and item.current_stage == common_pb2.STAGE_NOTION
    assert (await client.get_task(task.id)).status == task_pb2.TASK_STATUS_RUNNING
    msg = await gw.js.get_msg(subjects.JOBS_STREAM, subject=subjects.job_subject("notion", "high"))
    assert jobs_pb2.Job.FromString(msg.data).item_id == notion[0].item_id
    assert (await client.list_dead_letters()).total_size == 4
    # A record whose item is no longer failed (retried meanwhile) is removed, not replayed.
    parse_dl = [d async for d in client.iter_dead_letters(stage="parse")]
    await gw.sql("UPDATE items SET status = 'pending' WHERE id = :i", i=uuid.UUID(parse_dl[0].item_id))
    r = await client.replay_dead_letters([parse_dl[0].id])
    assert (r.replayed_count, r.skipped_count) == (0, 1)

    with pytest.raises(InvalidArgument, match="give the dead letters' ids, or all=true"):
        await client.replay_dead_letters()
    with pytest.raises(InvalidArgument, match="not both"):
        await client.purge_dead_letters([parse_dl[1].id], all=True)
    ghost = str(uuid.uuid4())
    with pytest.raises(InvalidArgument, match=f"ids: {ghost} are not dead letters"):
        await client.purge_dead_letters([ghost])
    # Another tenant can neither see nor touch them.
    _, other_key = await gw.tenant()
    async with AsyncClient(gw.address, other_key) as other:
        assert (await other.list_dead_letters()).total_size == 0
        with pytest.raises(InvalidArgument, match="are not dead letters"):
            await other.purge_dead_letters([parse_dl[1].id])
        assert (await other.purge_dead_letters(all=True)).purged_count == 0
    assert (await client.purge_dead_letters(all=True, stage="parse")).purged_count == 2
    assert (await client.purge_dead_letters(all=True, task_id=task.id)).purged_count == 1
    assert (await client.list_dead_letters()).total_size == 0
    assert (await client.get_item(parse_dl[1].item_id)).status == task_pb2.ITEM_STATUS_FAILED  # purge leaves items
