"""Pipeline RPCs of the real gateway (in-process `serve()`), real NATS and PostgreSQL, no workers:
paging, cancel, retry, bad input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from distill.internal.v1 import jobs_pb2
from distill.v1 import task_pb2
from distill_client import AsyncClient, FailedPrecondition, InvalidArgument, NotFound
from distill_core import subjects

from tests.helpers import wait_for
from tests.integration.gateway_fixture import Gateway, client_fixture, fail_item, running_gateway, urls  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def gw(nats_url: str, database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(nats_url, database_url, watch_heartbeat=0.5) as g:
        await g.js.purge_stream(subjects.JOBS_STREAM)
        yield g


# --- ListTasks / ListItems -----------------------------------------------------------------


async def test_list_tasks_walks_every_task_exactly_once_newest_first(client: AsyncClient) -> None:
    created = [(await client.submit(urls(1), labels={"batch": "b1" if n % 3 else "b0"})).id for n in range(23)]
    seen: list[str] = []
    page = await client.list_tasks(page_size=5)
    late = await client.submit(urls(1))  # created after the walk began: newer, so not in later pages
    while True:
        assert page.total_size in (23, 24)
        assert len(page.tasks) <= 5
        seen += [t.id for t in page.tasks]
        if not page.next_page_token:
            break
        page = await client.list_tasks(page_size=5, page_token=page.next_page_token)
    assert seen == list(reversed(created)), "every task once, newest first"
    assert late.id not in seen
    b0 = [t.id async for t in client.iter_tasks(labels={"batch": "b0"}, page_size=2)]
    assert b0 == [i for n, i in reversed(list(enumerate(created))) if n % 3 == 0]
    queued = await client.list_tasks(statuses=["queued"], page_size=1000)
    assert queued.total_size == 24 and not queued.next_page_token
    assert (await client.list_tasks(statuses=["succeeded"])).total_size == 0
    first = (await client.list_tasks()).tasks[0]
    assert first.counts.total == 1 and first.counts.pending == 1 and not first.items


async def test_page_tokens_are_tied_to_their_query(gw: Gateway, client: AsyncClient) -> None:
    for _ in range(3):
        await client.submit(urls(1), labels={"k": "v"})
    token = (await client.list_tasks(labels={"k": "v"}, page_size=1)).next_page_token
    assert token
    with pytest.raises(InvalidArgument, match="another query"):
        await client.list_tasks(labels={"k": "other"}, page_size=1, page_token=token)
    with pytest.raises(InvalidArgument, match="another query"):
        await client.list_tasks(statuses=["queued"], labels={"k": "v"}, page_token=token)
    with pytest.raises(InvalidArgument, match="malformed"):
        await client.list_tasks(labels={"k": "v"}, page_token=token[:-3] + "xyz")
    with pytest.raises(InvalidArgument, match="malformed"):
        await client.list_tasks(page_token="not-a-token")
    with pytest.raises(InvalidArgument, match="page_size 1001 is over the limit of 1000"):
        await client.list_tasks(page_size=1001)
    with pytest.raises(InvalidArgument, match="must not be negative"):
        await client.list_tasks(page_size=-1)
    # The same query from another tenant: the token is not theirs.
    _, other_key = await gw.tenant()
    async with AsyncClient(gw.address, other_key) as other:
        with pytest.raises(InvalidArgument, match="another query"):
            await other.list_tasks(labels={"k": "v"}, page_token=token)
    # A different page size is fine (AIP-158).
    page2 = await client.list_tasks(labels={"k": "v"}, page_size=2, page_token=token)
    assert len(page2.tasks) == 2 and not page2.next_page_token


async def test_list_items_in_task_order_with_status_filter(client: AsyncClient) -> None:
    task = await client.submit(urls(7))
    positions = [it.position async for it in client.iter_items(task.id, page_size=3)]
    assert positions == list(range(7))
    page = await client.list_items(task.id, page_size=3)
    assert page.total_size == 7 and len(page.items) == 3 and page.items[0].input.startswith("https://")
    assert (await client.list_items(task.id, statuses=["failed"])).total_size == 0
    other = await client.submit(urls(4))
    with pytest.raises(InvalidArgument, match="another query"):
        await client.list_items(other.id, page_token=page.next_page_token)
    with pytest.raises(NotFound):
        await client.list_items(str(uuid.uuid4()))
    with pytest.raises(InvalidArgument, match="task_id"):
        await client.list_items("nope")
    with pytest.raises(InvalidArgument, match="unknown or unspecified status"):
        await client.list_items(task.id, statuses=[0])


# --- CancelTask ------------------------------------------------------------------------


async def test_cancel_cancels_pending_items_at_once_and_tells_the_workers(gw: Gateway, client: AsyncClient) -> None:
    task = await client.submit(urls(5))
    heard: list[jobs_pb2.CancelRequest] = []

    async def on_cancel(msg: Any) -> None:
        heard.append(jobs_pb2.CancelRequest.FromString(msg.data))

    sub = await gw.nc.subscribe(subjects.CANCEL_SUBJECT, cb=on_cancel)
    await gw.nc.flush()
    events: list[task_pb2.TaskEvent] = []

    async def watch() -> None:
        async for ev in client.watch(task.id):
            events.append(ev)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.3)
    try:
        cancelled = await client.cancel(task.id)
        assert cancelled.status == task_pb2.TASK_STATUS_CANCELLED
        assert cancelled.counts.cancelled == 5 and cancelled.progress == 100
        assert cancelled.HasField("finish_time")
        await asyncio.wait_for(watcher, 10)
        for _ in range(50):
            if heard:
                break
            await asyncio.sleep(0.02)
        assert [h.task_id for h in heard] == [task.id]
    finally:
        await sub.unsubscribe()
    items = [it async for it in client.iter_items(task.id)]
    assert {it.status for it in items} == {task_pb2.ITEM_STATUS_CANCELLED}
    assert events[-1].terminal and events[-1].task.status == task_pb2.TASK_STATUS_CANCELLED
    assert sum(e.type == task_pb2.EVENT_TYPE_ITEM_UPDATED for e in events) == 5
    with pytest.raises(FailedPrecondition, match="already finished"):
        await client.cancel(task.id)
    with pytest.raises(NotFound):
        await client.cancel(str(uuid.uuid4()))
    with pytest.raises(InvalidArgument, match="not a valid id"):
        await client.cancel("12")


# --- RetryTask -------------------------------------------------------------------------


async def _finish(gw: Gateway, task_id: str, status: str) -> None:
    await gw.sql(
        "UPDATE items SET status = 'succeeded', finished_at = now() WHERE task_id = :t AND status = 'pending'",
        t=uuid.UUID(task_id),
    )
    await gw.sql(
        "UPDATE tasks SET status = :s, started_at = now(), finished_at = now() WHERE id = :t",
        s=status,
        t=uuid.UUID(task_id),
    )


async def test_retry_reruns_only_failed_items_from_the_stage_that_failed(gw: Gateway, client: AsyncClient) -> None:
    task = await client.submit(urls(4), priority="low")
    items = [it async for it in client.iter_items(task.id)]
    await fail_item(gw, items[0].id, "parse", "HTTP_SERVER_ERROR")
    await fail_item(gw, items[1].id, "ai", "TIMEOUT")
    await fail_item(gw, items[2].id, "ai", "RATE_LIMITED")
    await _finish(gw, task.id, "partially_failed")

    r = await client.retry(task.id, stage="ai", error_code="TIMEOUT")
    assert r.retried_count == 1
    assert r.task.status == task_pb2.TASK_STATUS_RUNNING and not r.task.HasField("finish_time")
    again = await client.get_item(items[1].id)
    assert again.status == task_pb2.ITEM_STATUS_PENDING and again.current_stage == 2  # STAGE_AI
    assert not again.HasField("error")
    (phase,) = [p for p in again.phases if p.stage == 2]
    assert phase.status == task_pb2.PHASE_STATUS_PENDING and phase.attempts == 0
    rows = await gw.sql("SELECT generation FROM items WHERE id = :i", i=uuid.UUID(items[1].id))
    assert rows[0]["generation"] == 1
    # Its job went to the task's lane at the stage that failed, with a new Nats-Msg-Id.
    msg = await gw.js.get_msg(subjects.JOBS_STREAM, subject=subjects.job_subject("ai", "low"))
    job = jobs_pb2.Job.FromString(msg.data)
    assert (job.item_id, job.generation, job.stage) == (items[1].id, 1, 2)
    assert msg.headers and msg.headers.get("Nats-Msg-Id") == f"{items[1].id}:ai:1"
    # Its dead letter is gone with the re-run; the others stay.
    dead = {d.item_id async for d in client.iter_dead_letters(task_id=task.id)}
    assert dead == {items[0].id, items[2].id}

    assert (await client.retry(task.id, stage="ai", error_code="TIMEOUT")).retried_count == 0
    assert (await client.retry(task.id, item_ids=[items[3].id])).retried_count == 0  # succeeded: left alone
    r = await client.retry(task.id)
    assert r.retried_count == 2
    statuses = {it.id: it.status async for it in client.iter_items(task.id)}
    assert statuses[items[0].id] == statuses[items[2].id] == task_pb2.ITEM_STATUS_PENDING
    assert statuses[items[3].id] == task_pb2.ITEM_STATUS_SUCCEEDED
    assert (await client.retry(task.id)).retried_count == 0  # nothing failed: not an error


async def test_retry_bad_input(client: AsyncClient) -> None:
    task = await client.submit(urls(2))
    other = await client.submit(urls(1))
    other_item = (await client.list_items(other.id)).items[0].id
    with pytest.raises(InvalidArgument, match=f"item_ids: {other_item} are not items of task"):
        await client.retry(task.id, item_ids=[other_item])
    with pytest.raises(InvalidArgument, match=r"item_ids\[1\]"):
        await client.retry(task.id, item_ids=[other_item, "bogus"])
    with pytest.raises(InvalidArgument, match="unknown stage"):
        await client.retry(task.id, stage=9)
    with pytest.raises(NotFound):
        await client.retry(str(uuid.uuid4()))


# --- CreateTask ------------------------------------------------------------------------


async def test_same_idempotency_key_gives_the_same_task(gw: Gateway, client: AsyncClient) -> None:
    key = f"import-{uuid.uuid4()}"
    results = await asyncio.gather(*(client.submit(urls(3), idempotency_key=key) for _ in range(5)))
    assert len({t.id for t in results}) == 1
    assert (await client.list_tasks()).total_size == 1
    # Another tenant's identical key is its own.
    _, other_key = await gw.tenant()
    async with AsyncClient(gw.address, other_key) as other:
        assert (await other.submit(urls(1), idempotency_key=key)).id != results[0].id


async def test_create_task_bad_input_says_what_is_wrong(client: AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"urls": urls(1), "stages": ["parse", "export"]}, "not a contiguous run"),
        ({"urls": urls(1), "stages": ["ai"]}, "must start at 'parse'"),
        ({"parsed_content_ids": [str(uuid.uuid4())]}, "do not exist"),
        ({"ai_content_ids": ["nope"]}, "ai_content_ids[0]"),
        ({"urls": urls(1), "parsed_content_ids": [str(uuid.uuid4())]}, "give only one of"),
        ({"urls": urls(1), "stages": [7]}, "unknown stage"),
        ({"urls": urls(1), "priority": 9}, "priority"),
        ({"urls": urls(1), "labels": {"Bad Key": "x"}}, "labels"),
    ]
    for kwargs, says in cases:
        with pytest.raises(InvalidArgument) as e:
            await client.submit(**kwargs)
        assert says in e.value.message, (kwargs, e.value.message)
        assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT


# --- the blocking client ---------------------------------------------------------------


async def test_blocking_client_has_the_same_api(gw: Gateway) -> None:
    _, key = await gw.tenant()

    def use() -> tuple[str, list[str], list[int], str]:
        from distill_client import Client

        with Client(gw.address, key) as c:
            task = c.submit(urls(3), labels={"sync": "yes"})
            listed = [t.id for t in c.iter_tasks(labels={"sync": "yes"})]
            c.cancel(task.id)
            kinds = [ev.type for ev in c.watch(task.id)]
            try:
                c.get_task(str(uuid.uuid4()))
                missing = "found"
            except NotFound as e:
                missing = e.message
            return task.id, listed, kinds, missing

    task_id, listed, kinds, missing = await asyncio.to_thread(use)
    assert listed == [task_id]
    assert kinds[0] == task_pb2.EVENT_TYPE_SNAPSHOT and len(kinds) == 1  # already cancelled: snapshot is terminal
    assert "not found" in missing


# --- the dispatched mark ---------------------------------------------------------------------


async def test_accepted_items_are_marked_dispatched_after_the_answer_several_calls_at_once(
    gw: Gateway, client: AsyncClient
) -> None:
    tasks = await asyncio.gather(*(client.submit(urls(2)) for _ in range(5)))
    ids = [uuid.UUID(t.id) for t in tasks]

    async def marked() -> list[dict[str, Any]] | None:
        rows = await gw.sql("SELECT dispatched_at FROM items WHERE task_id = ANY(:t)", t=ids)
        return rows if len(rows) == 10 and all(r["dispatched_at"] is not None for r in rows) else None

    await wait_for(lambda: _truthy(marked()), timeout=5, what="the items marked dispatched")
    rows = await marked()
    assert rows is not None
    # Calls answered within the mark's short wait share one UPDATE (one transaction time).
    assert len({r["dispatched_at"] for r in rows}) < 5, rows


async def test_a_mark_that_cannot_be_written_is_left_to_the_relay(gw: Gateway) -> None:
    from distill_core.db.session import make_engine
    from distill_gateway.dispatch import DispatchMarks

    nowhere = make_engine("postgresql://distill@127.0.0.1:9/none")  # nothing listens on port 9
    marks = DispatchMarks(nowhere, delay=0)
    try:
        marks.add([uuid.uuid4()])
        await asyncio.wait_for(marks.drain(), 30)  # logged, not raised: the call was answered long ago
    finally:
        await nowhere.dispose()


async def _truthy(aw: Any) -> bool:
    return bool(await aw)
