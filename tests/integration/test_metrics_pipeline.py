"""/metrics after a small real run (gateway and three stages on real NATS and PostgreSQL):
the counts are what happened, the queue gauges follow JetStream, no label names an item."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
from distill.v1 import common_pb2, pipeline_pb2, pipeline_pb2_grpc

from tests.integration.pipeline_fixture import Pipeline, quick_backoff, running_pipeline, scrape, value

pytestmark = pytest.mark.integration

PIPELINE = "distill.v1.Pipeline"


async def _rpc_mistakes(p: Pipeline, key: str) -> None:
    """One UNAUTHENTICATED CreateTask and one INVALID_ARGUMENT GetTask."""
    async with grpc.aio.insecure_channel(p.gw.address) as ch:
        stub = pipeline_pb2_grpc.PipelineStub(ch)
        with pytest.raises(grpc.aio.AioRpcError) as bad_key:
            await stub.CreateTask(
                pipeline_pb2.CreateTaskRequest(urls=["https://example.com/"]),
                metadata=(("authorization", "Bearer dk_nope_nopenopenope"),),
            )
        assert bad_key.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as bad_id:
            await stub.GetTask(
                pipeline_pb2.GetTaskRequest(id="not-a-uuid"), metadata=(("authorization", f"Bearer {key}"),)
            )
        assert bad_id.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def _gauge(p: Pipeline, name: str, want: Any, timeout: float = 20, **labels: str) -> float:
    """Wait until the gauge satisfies `want` (a value, or a predicate); return its value."""
    check = want if callable(want) else (lambda v: v == want)
    got = None
    for _ in range(int(timeout / 0.1)):
        got = value(scrape(p.metrics_url), name, **labels)
        if check(got):
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name}{labels} is {got}, not {want}, after {timeout:g} s")


async def test_a_small_run_shows_on_metrics(
    nats_url: str, fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_backoff(monkeypatch)
    async with running_pipeline(nats_url, fresh_database_url, tmp_path, queue_metrics_interval=0.2) as p:
        _, key = await p.gw.tenant()
        before = scrape(p.metrics_url)
        urls = [p.pages.url(n) for n in ("article.html", "recipe.html", "missing.html", "flaky-1")]
        task_id = await p.submit(key, urls)
        await _rpc_mistakes(p, key)
        assert await p.finished(task_id) == "partially_failed"
        after = scrape(p.metrics_url)

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        # Each stage: the three good pages went through; parse also saw the 404 and the 500.
        assert delta("distill_stage_started_total", stage="parse", priority="normal") == 5  # flaky-1 twice
        assert delta("distill_stage_items_total", stage="parse", outcome="done") == 3
        assert delta("distill_stage_items_total", stage="parse", outcome="fail") == 1
        assert delta("distill_stage_items_total", stage="parse", outcome="retry") == 1
        assert delta("distill_stage_retries_total", stage="parse") == 1
        assert delta("distill_stage_failures_total", stage="parse", code="HTTP_NOT_FOUND", final="true") == 1
        assert delta("distill_stage_failures_total", stage="parse", code="HTTP_SERVER_ERROR", final="false") == 1
        assert delta("distill_dead_letters_total", stage="parse", code="HTTP_NOT_FOUND") == 1
        assert delta("distill_stage_duration_seconds_count", stage="parse") == 5
        for stage in ("ai", "notion"):
            assert delta("distill_stage_started_total", stage=stage) == 3, stage
            assert delta("distill_stage_items_total", stage=stage, outcome="done") == 3, stage
            assert delta("distill_stage_failures_total", stage=stage) == 0, stage
            assert delta("distill_stage_duration_seconds_count", stage=stage) == 3, stage
        for stage in ("parse", "ai", "notion"):
            assert value(after, "distill_stage_in_flight", stage=stage) == 0, stage

        # The gateway's RPCs by method and status code.
        rpc = {"grpc_service": PIPELINE, "grpc_type": "unary"}
        assert delta("grpc_server_started_total", grpc_method="CreateTask", **rpc) == 2
        assert delta("grpc_server_handled_total", grpc_method="CreateTask", grpc_code="OK", **rpc) == 1
        assert delta("grpc_server_handled_total", grpc_method="CreateTask", grpc_code="UNAUTHENTICATED", **rpc) == 1
        assert delta("grpc_server_handled_total", grpc_method="GetTask", grpc_code="INVALID_ARGUMENT", **rpc) == 1
        assert delta("grpc_server_handling_seconds_count", grpc_method="CreateTask", **rpc) == 2

        # Low cardinality: no label value is a URL, a task or an item.
        item_ids = {str(r["id"]) for r in await p.gw.sql("SELECT id FROM items WHERE task_id = :t", t=_uuid(task_id))}
        for _, labels in after:
            for k, v in labels:
                assert "://" not in v and v != task_id and v not in item_ids, (k, v)

        # Gauges from JetStream and the heartbeats: one worker per stage now ...
        for stage in ("parse", "ai", "notion"):
            await _gauge(p, "distill_stage_workers", 1, stage=stage)
        await _gauge(p, "distill_dead_letters_stored", lambda v: v >= 1, stage="parse")
        # ... none once they stop, and the jobs of a new task wait in the parse lane.
        await p.stop_workers()
        await p.submit(key, [p.pages.url(f"later-{i}") for i in range(3)], priority=common_pb2.PRIORITY_LOW)
        await _gauge(p, "distill_stage_workers", 0, stage="parse")
        await _gauge(p, "distill_queue_pending_jobs", 3, stage="parse", priority="low")
        assert await _gauge(p, "distill_queue_oldest_age_seconds", lambda v: v > 0, stage="parse", priority="low") < 60
        assert value(scrape(p.metrics_url), "distill_queue_pending_jobs", stage="ai", priority="low") == 0
        await p.gw.js.purge_stream("JOBS")


def _uuid(s: str) -> Any:
    import uuid

    return uuid.UUID(s)
