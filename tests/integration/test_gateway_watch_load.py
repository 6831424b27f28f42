"""WatchTask under load on one real gateway (in-process): 500 watchers at once, a watcher that
stops reading is dropped with a clear status instead of holding events without bound, and it
resumes from the sequence that status names with nothing missed; fast watchers and the
publishing side do not notice it."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from distill.v1 import pipeline_pb2, pipeline_pb2_grpc, task_pb2
from distill_core.events import item_event, publish_all

from tests.integration.gateway_fixture import Gateway, running_gateway, urls

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def gw(nats_url: str, database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(nats_url, database_url, watch_heartbeat=2.0) as g:
        yield g


async def new_task(gw: Gateway) -> tuple[str, str, list[tuple[str, str]]]:
    tenant, key = await gw.tenant()
    md = [("authorization", f"Bearer {key}")]
    async with grpc.aio.insecure_channel(gw.address) as ch:
        task = await pipeline_pb2_grpc.PipelineStub(ch).CreateTask(
            pipeline_pb2.CreateTaskRequest(urls=urls(1)), metadata=md
        )
    return tenant, task.id, md


async def publish(gw: Gateway, tenant: str, task_id: str, n: int, tag: str) -> float:
    """n item events as a stage publishes them (about 2 kB each); returns the seconds it took."""
    item = task_pb2.Item(id=str(uuid.uuid4()), task_id=task_id, status=task_pb2.ITEM_STATUS_RUNNING)
    item.title = "x" * 1800
    t0 = time.monotonic()
    for start in range(0, n, 200):
        await publish_all(
            gw.js, [item_event(tenant, item, f"{task_id}:{tag}:{i}") for i in range(start, min(n, start + 200))]
        )
    return time.monotonic() - t0


def seqs(events: list[task_pb2.TaskEvent]) -> list[int]:
    return [e.sequence for e in events if e.type == task_pb2.EVENT_TYPE_ITEM_UPDATED]


async def test_500_watchers_on_one_gateway_all_get_every_event(gw: Gateway) -> None:
    tenant, task_id, md = await new_task(gw)
    channels = [grpc.aio.insecure_channel(gw.address) for _ in range(5)]
    got: list[list[int]] = [[] for _ in range(500)]
    ready = 0

    async def watch(n: int) -> None:
        nonlocal ready
        stub = pipeline_pb2_grpc.PipelineStub(channels[n % 5])
        async for ev in stub.WatchTask(pipeline_pb2.WatchTaskRequest(task_id=task_id), metadata=md):
            if ev.type == task_pb2.EVENT_TYPE_SNAPSHOT:
                ready += 1
            elif ev.type == task_pb2.EVENT_TYPE_ITEM_UPDATED:
                got[n].append(ev.sequence)
                if len(got[n]) == 5:
                    return

    watchers = [asyncio.create_task(watch(n)) for n in range(500)]
    try:
        deadline = time.monotonic() + 60
        while ready < 500 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert ready == 500, f"only {ready} of 500 watchers got their snapshot"
        await publish(gw, tenant, task_id, 5, "fanout")
        await asyncio.wait_for(asyncio.gather(*watchers), 60)
        assert len({tuple(g) for g in got}) == 1 and len(got[0]) == 5, "watchers saw different events"
    finally:
        for w in watchers:
            w.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        for ch in channels:
            await ch.close()


async def follow(
    stub: Any, task_id: str, md: Any, total: int, into: list[int], drops: list[str], from_sequence: int = 0
) -> None:
    """A client that resumes after being dropped, as a client library should, until `total` events."""
    seq = from_sequence
    while len(into) < total:
        try:
            req = pipeline_pb2.WatchTaskRequest(task_id=task_id, from_sequence=seq)
            async for ev in stub.WatchTask(req, metadata=md):
                if ev.type == task_pb2.EVENT_TYPE_ITEM_UPDATED:
                    into.append(ev.sequence)
                    seq = ev.sequence
                    if len(into) == total:
                        return
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
            drops.append(e.details() or "")
            seq = int(re.search(r"from_sequence=(\d+)", e.details() or "").group(1))  # type: ignore[union-attr]


async def test_a_watcher_that_stops_reading_is_dropped_and_resumes_with_nothing_missed(gw: Gateway) -> None:
    tenant, task_id, md = await new_task(gw)
    total = 6_000  # about 12 MB: more than gRPC flow control and the gateway's buffer hold
    async with grpc.aio.insecure_channel(gw.address) as slow_ch, grpc.aio.insecure_channel(gw.address) as fast_ch:
        fast: list[int] = []
        fast_drops: list[str] = []
        fast_task = asyncio.create_task(
            follow(pipeline_pb2_grpc.PipelineStub(fast_ch), task_id, md, total, fast, fast_drops)
        )
        slow = pipeline_pb2_grpc.PipelineStub(slow_ch).WatchTask(
            pipeline_pb2.WatchTaskRequest(task_id=task_id), metadata=md
        )
        first = await slow.read()
        assert first.type == task_pb2.EVENT_TYPE_SNAPSHOT
        took = await publish(gw, tenant, task_id, total, "flood")  # the slow client reads nothing meanwhile
        try:
            await asyncio.wait_for(fast_task, 180)
        except TimeoutError:
            got = f"{len(fast)} of {total} events ({len(fast_drops)} resumes)"
            raise AssertionError(f"the fast watcher got {got}") from None
        assert fast == sorted(set(fast)) and len(fast) == total, "the fast watcher missed or repeated events"

        read: list[int] = []
        with pytest.raises(grpc.aio.AioRpcError) as dropped:
            while True:
                try:
                    ev = await asyncio.wait_for(slow.read(), 30)
                except TimeoutError:
                    why = f"the stalled watcher, after {len(read)} events, got nothing for 30 s"
                    raise AssertionError(why) from None
                assert ev is not grpc.aio.EOF, "the stream ended instead of dropping the slow watcher"
                if ev.type == task_pb2.EVENT_TYPE_ITEM_UPDATED:
                    read.append(ev.sequence)
        assert dropped.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        details = dropped.value.details() or ""
        assert "events behind" in details and "reconnect with from_sequence=" in details, details
        resume_at = int(re.search(r"from_sequence=(\d+)", details).group(1))  # type: ignore[union-attr]
        assert read and read[-1] == resume_at and len(read) < total
        rest: list[int] = []
        await asyncio.wait_for(
            follow(pipeline_pb2_grpc.PipelineStub(slow_ch), task_id, md, total - len(read), rest, [], resume_at), 120
        )
        assert read + rest == fast, "the dropped watcher missed or repeated events after resuming"
        print(
            f"\n{total} events published in {took:.2f} s; the fast watcher got them all "
            f"({len(fast_drops)} resumes); the stalled one was dropped after {len(read)}: {details}"
        )
