"""WatchTask and WatchTasks of the real gateway (in-process): resume with nothing missed or
repeated, all of a tenant's tasks, label filter, heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from distill.v1 import task_pb2
from distill_client import AsyncClient

from tests.integration.gateway_fixture import Gateway, client_fixture, running_gateway, urls  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

HEARTBEAT = task_pb2.EVENT_TYPE_HEARTBEAT


@pytest.fixture(scope="module")
async def gw(nats_url: str, database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(nats_url, database_url, watch_heartbeat=0.5) as g:
        yield g


def keys(events: list[task_pb2.TaskEvent]) -> list[tuple[int, str]]:
    return [(e.sequence, e.event_id) for e in events if e.type != HEARTBEAT]


async def collect(agen: AsyncIterator[task_pb2.TaskEvent], into: list[task_pb2.TaskEvent]) -> None:
    async for ev in agen:
        into.append(ev)


async def test_watch_task_resumes_with_nothing_missed_or_repeated(client: AsyncClient) -> None:
    task = await client.submit(urls(6))
    # Live: one watcher stays, the other is cut after a few events and resumes.
    whole: list[task_pb2.TaskEvent] = []
    stay = asyncio.create_task(collect(client.watch(task.id), whole))
    await asyncio.sleep(0.3)
    cut: list[task_pb2.TaskEvent] = []
    agen = client.watch(task.id)
    cut.append(await agen.__anext__())  # the snapshot
    assert cut[0].type == task_pb2.EVENT_TYPE_SNAPSHOT
    await client.cancel(task.id)  # 6 item events, then the terminal task event
    for _ in range(3):
        cut.append(await agen.__anext__())
    await agen.aclose()  # the connection drops
    resumed = [ev async for ev in client.watch(task.id, from_sequence=cut[-1].sequence)]
    await asyncio.wait_for(stay, 10)
    assert keys(cut[1:] + resumed) == keys(whole[1:]), "resumed stream = uninterrupted stream"
    assert len(keys(whole[1:])) == 7 and whole[-1].terminal
    assert len({e.event_id for e in whole[1:]}) == 7
    # After the end: from any sequence, the rest and nothing else; from the last one, the final state.
    mid = whole[3].sequence
    assert keys([ev async for ev in client.watch(task.id, from_sequence=mid)]) == keys(whole[4:])
    tail = [ev async for ev in client.watch(task.id, from_sequence=whole[-1].sequence)]
    assert len(tail) == 1 and tail[0].terminal and tail[0].task.status == task_pb2.TASK_STATUS_CANCELLED


async def test_watch_tasks_follows_all_tasks_of_the_caller_with_label_filter(gw: Gateway, client: AsyncClient) -> None:
    everything: list[task_pb2.TaskEvent] = []
    team_a: list[task_pb2.TaskEvent] = []
    _, other_key = await gw.tenant()
    other = AsyncClient(gw.address, other_key)
    strangers: list[task_pb2.TaskEvent] = []
    watchers = [
        asyncio.create_task(collect(client.watch_tasks(heartbeats=True), everything)),
        asyncio.create_task(collect(client.watch_tasks(labels={"team": "a"}, heartbeats=True), team_a)),
        asyncio.create_task(collect(other.watch_tasks(), strangers)),
    ]
    try:
        await asyncio.sleep(0.5)
        a = await client.submit(urls(2), labels={"team": "a", "x": "1"})
        b = await client.submit(urls(3), labels={"team": "b"})
        await client.cancel(a.id)
        await client.cancel(b.id)
        for _ in range(100):
            if sum(e.terminal for e in everything) == 2 and any(e.terminal for e in team_a):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.2)  # long enough for a heartbeat
    finally:
        for w in watchers:
            w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await w
        await other.close()
    real = [e for e in everything if e.type != HEARTBEAT]
    assert {e.task_id for e in real} == {a.id, b.id}
    assert len(real) == (1 + 2 + 1) + (1 + 3 + 1)  # queued, item cancelled x n, terminal
    assert {e.task_id for e in team_a if e.type != HEARTBEAT} == {a.id}
    assert keys(team_a) == [k for k, e in zip(keys(everything), real, strict=True) if e.task_id == a.id]
    assert any(e.type == HEARTBEAT for e in team_a) and any(e.type == HEARTBEAT for e in everything)
    assert strangers == [], "another tenant sees none of it"
    seqs = [s for s, _ in keys(everything)]
    assert seqs == sorted(set(seqs))
    # Resume after any event: exactly the rest.
    cut = real[3].sequence
    rest: list[task_pb2.TaskEvent] = []
    resume = asyncio.create_task(collect(client.watch_tasks(from_sequence=cut), rest))
    for _ in range(100):
        if len(rest) >= len(real) - 4:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    resume.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await resume
    assert keys(rest) == keys(real[4:])
