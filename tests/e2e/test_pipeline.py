"""The walking skeleton end to end: `distill up`, then a client that knows only the API."""

from __future__ import annotations

import grpc
import pytest
from distill.v1 import pipeline_pb2, pipeline_pb2_grpc, task_pb2
from distill_client import AsyncClient, DistillClientError

pytestmark = pytest.mark.e2e


async def test_submit_watch_and_read_results(stack, pages) -> None:  # type: ignore[no-untyped-def]
    urls = [pages.url("article.html"), pages.url("recipe.html"), pages.url("field-notes.txt"), pages.url("missing")]
    async with AsyncClient(stack.gateway, stack.api_key) as client:
        task = await client.submit(urls)
        assert task.status == task_pb2.TASK_STATUS_QUEUED
        assert task.counts.total == 4
        events = [ev async for ev in client.watch(task.id)]
        assert events[0].type == task_pb2.EVENT_TYPE_SNAPSHOT
        assert events[-1].terminal
        assert any(e.type == task_pb2.EVENT_TYPE_ITEM_UPDATED for e in events)
        seqs = [e.sequence for e in events if e.type == task_pb2.EVENT_TYPE_ITEM_UPDATED]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        done = await client.get_task(task.id, include_items=True)
        assert done.status == task_pb2.TASK_STATUS_PARTIALLY_FAILED
        by_input = {it.input: it for it in done.items}
        missing = by_input[urls[3]]
        assert missing.status == task_pb2.ITEM_STATUS_FAILED
        assert missing.error.code == "HTTP_NOT_FOUND" and not missing.error.retryable
        recipe = await client.get_item(by_input[urls[1]].id, full=True)
        assert recipe.status == task_pb2.ITEM_STATUS_SUCCEEDED
        assert recipe.title == "Lemon Ricotta Pancakes"
        assert recipe.parsed.recipe.ingredients[0] == "250 g ricotta"
        assert recipe.ai.summary and recipe.ai.keywords
        assert recipe.export.url.startswith("file://") and recipe.export.url.endswith(".md")
        assert "Whisk the ricotta" in recipe.parsed.text
        basic = await client.get_item(by_input[urls[0]].id)
        assert basic.parsed.excerpt and not basic.parsed.text  # BASIC view: excerpt only
    files = sorted((stack.data_dir / "exports").rglob("*.md"))
    assert any("lemon-ricotta-pancakes" in f.name for f in files)


async def test_bad_input_is_invalid_argument_naming_the_entry(stack) -> None:  # type: ignore[no-untyped-def]
    async with AsyncClient(stack.gateway, stack.api_key) as client:
        for urls, says in (
            ([], "is required"),
            (["file:///etc/passwd"], "only http and https"),
            (["https://ok.example/", "not a url"], "urls[1]"),
        ):
            with pytest.raises(DistillClientError) as e:
                await client.submit(urls)
            assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT
            assert says in e.value.message


async def test_unknown_ids_are_not_found(stack) -> None:  # type: ignore[no-untyped-def]
    async with AsyncClient(stack.gateway, stack.api_key) as client:
        for call in (
            client.get_task("00000000-0000-4000-8000-000000000000"),
            client.get_item("00000000-0000-4000-8000-000000000000"),
        ):
            with pytest.raises(DistillClientError) as e:
                await call
            assert e.value.code == grpc.StatusCode.NOT_FOUND


async def test_no_key_is_unauthenticated(stack) -> None:  # type: ignore[no-untyped-def]
    async with grpc.aio.insecure_channel(stack.gateway) as ch:
        stub = pipeline_pb2_grpc.PipelineStub(ch)
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.GetTask(pipeline_pb2.GetTaskRequest(id="x"))
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.GetTask(
                pipeline_pb2.GetTaskRequest(id="x"), metadata=[("authorization", "Bearer wrong-key-123456789")]
            )
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
