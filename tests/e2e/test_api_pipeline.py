"""The full Pipeline API against a whole `distill up` stack: paging, stage-only tasks,
idempotency, bad input, and the command line on top of the client library."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest
from distill.v1 import common_pb2, task_pb2
from distill_client import AsyncClient, FailedPrecondition, InvalidArgument, NotFound
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

pytestmark = pytest.mark.e2e

DISTILL = str(Path(sys.executable).parent / "distill")


def new_key(stack, tenant: str) -> str:  # type: ignore[no-untyped-def]
    """A key of a fresh tenant, made with the command line as an operator would."""
    r = subprocess.run(
        [DISTILL, "keys", "create", "--tenant", tenant, "--data-dir", str(stack.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


def cli(stack, *args: str, key: str | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = dict(os.environ, DISTILL_GATEWAY=stack.gateway, DISTILL_API_KEY=key or stack.api_key, COLUMNS="200")
    return subprocess.run([DISTILL, *args], capture_output=True, text=True, env=env, input=stdin, timeout=120)


async def test_pagination_walks_every_task_exactly_once_with_reflection_only(stack, pages) -> None:  # type: ignore[no-untyped-def]
    """A client that knows only the contract and reflection pages through a fresh tenant's tasks."""
    key = new_key(stack, f"pages-{uuid.uuid4().hex[:6]}")
    md = [("authorization", f"Bearer {key}")]
    ch = grpc.insecure_channel(stack.gateway)
    try:
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(ch))
        svc = pool.FindServiceByName("distill.v1.Pipeline")

        def call(name: str, req: dict) -> dict:  # type: ignore[type-arg]
            m = svc.methods_by_name[name]
            fn = ch.unary_unary(
                f"/distill.v1.Pipeline/{name}",
                request_serializer=lambda x: x.SerializeToString(),
                response_deserializer=message_factory.GetMessageClass(m.output_type).FromString,
            )
            res = fn(json_format.ParseDict(req, message_factory.GetMessageClass(m.input_type)()), metadata=md)
            return json_format.MessageToDict(res, preserving_proto_field_name=True)

        page_url = pages.url("field-notes.txt")
        made = [call("CreateTask", {"urls": [f"{page_url}?n={n}"], "stages": ["STAGE_PARSE"]})["id"] for n in range(27)]
        seen, token, pages = [], "", 0
        while True:
            page = call("ListTasks", {"page_size": 4, "page_token": token})
            assert page["total_size"] == 27
            seen += [t["id"] for t in page.get("tasks", [])]
            pages += 1
            token = page.get("next_page_token", "")
            if not token:
                break
        assert pages == 7 and sorted(seen) == sorted(made) and len(set(seen)) == 27
        assert seen == list(reversed(made))
        with pytest.raises(grpc.RpcError) as e:
            call("ListTasks", {"page_size": 1001})
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "1000" in e.value.details()
        token = call("ListTasks", {"page_size": 2})["next_page_token"]
        with pytest.raises(grpc.RpcError) as e:
            call("ListTasks", {"page_size": 2, "page_token": token, "statuses": ["TASK_STATUS_FAILED"]})
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "another query" in e.value.details()
    finally:
        ch.close()


async def test_parse_only_stops_after_parse_and_ai_only_skips_the_fetch(stack, pages) -> None:  # type: ignore[no-untyped-def]
    name = f"only-{uuid.uuid4().hex[:6]}.html"
    shutil.copy(pages.folder / "article.html", pages.folder / name)
    before = set((stack.data_dir / "exports").rglob("*.md"))
    async with AsyncClient(stack.gateway, stack.api_key) as client:
        parsed_task = await client.wait((await client.submit([pages.url(name)], stages=["parse"])).id, timeout=120)
        assert parsed_task.status == task_pb2.TASK_STATUS_SUCCEEDED
        assert list(parsed_task.stages) == [common_pb2.STAGE_PARSE]
        (item,) = parsed_task.items
        assert [p.stage for p in item.phases] == [common_pb2.STAGE_PARSE]
        assert item.parsed.id and item.parsed.title and not item.ai.id and not item.export.url
        assert set((stack.data_dir / "exports").rglob("*.md")) == before, "a parse-only task exported something"

        (pages.folder / name).unlink()  # fetching it again would now fail with 404
        ai_task = await client.submit(parsed_content_ids=[item.parsed.id])
        assert ai_task.input_kind == task_pb2.INPUT_KIND_PARSED_CONTENT
        assert list(ai_task.stages) == [common_pb2.STAGE_AI, common_pb2.STAGE_NOTION]
        done = await client.wait(ai_task.id, timeout=120)
        assert done.status == task_pb2.TASK_STATUS_SUCCEEDED, done
        (again,) = done.items
        assert [p.stage for p in again.phases] == [common_pb2.STAGE_AI, common_pb2.STAGE_NOTION]
        assert again.parsed.id == item.parsed.id and again.ai.summary and again.export.url.startswith("file://")
        assert len(set((stack.data_dir / "exports").rglob("*.md")) - before) == 1

        # And from the AI output straight to the export stage.
        export_only = await client.wait((await client.submit(ai_content_ids=[again.ai.id])).id, timeout=120)
        assert export_only.status == task_pb2.TASK_STATUS_SUCCEEDED
        assert [p.stage for p in export_only.items[0].phases] == [common_pb2.STAGE_NOTION]

        # Stages that do not fit the input are refused, saying which.
        with pytest.raises(InvalidArgument, match="must start at 'ai'"):
            await client.submit(parsed_content_ids=[item.parsed.id], stages=["parse", "ai"])
        with pytest.raises(InvalidArgument, match="not a contiguous run"):
            await client.submit([pages.url("article.html")], stages=["parse", "export"])
        with pytest.raises(InvalidArgument, match="do not exist"):
            await client.submit(ai_content_ids=[str(uuid.uuid4())])


async def test_same_idempotency_key_twice_gives_one_task(stack, pages) -> None:  # type: ignore[no-untyped-def]
    key = f"e2e-{uuid.uuid4()}"
    async with AsyncClient(stack.gateway, stack.api_key) as client:
        first = await client.submit([pages.url("field-notes.txt")], idempotency_key=key, labels={"idem": key[-8:]})
        second = await client.submit([pages.url("field-notes.txt")], idempotency_key=key, labels={"idem": key[-8:]})
        assert first.id == second.id
        assert (await client.list_tasks(labels={"idem": key[-8:]})).total_size == 1
        done = await client.wait(first.id, timeout=120)
        assert done.counts.total == 1 and done.status == task_pb2.TASK_STATUS_SUCCEEDED
        third = await client.submit([pages.url("field-notes.txt")], idempotency_key=key)  # after it finished, too
        assert third.id == first.id


async def test_bad_input_and_unknown_ids(stack, pages) -> None:  # type: ignore[no-untyped-def]
    ghost = str(uuid.uuid4())
    async with AsyncClient(stack.gateway, stack.api_key) as client:
        for call in (
            client.cancel(ghost),
            client.retry(ghost),
            client.list_items(ghost),
            client.get_task(ghost),
        ):
            with pytest.raises(NotFound):
                await call
        with pytest.raises(NotFound):
            async for _ in client.watch(ghost):
                pass
        done = await client.wait((await client.submit([pages.url("field-notes.txt")])).id, timeout=120)
        assert done.status == task_pb2.TASK_STATUS_SUCCEEDED
        r = await client.retry(done.id)
        assert r.retried_count == 0 and r.task.status == task_pb2.TASK_STATUS_SUCCEEDED
        with pytest.raises(FailedPrecondition, match="already finished"):
            await client.cancel(done.id)
        with pytest.raises(InvalidArgument, match="are not items of task"):
            await client.retry(done.id, item_ids=[ghost])


async def test_command_line(stack, pages) -> None:  # type: ignore[no-untyped-def]
    key = new_key(stack, f"cli-{uuid.uuid4().hex[:6]}")
    # submit from stdin, wait: one page is missing, so partial failure (exit 3)
    r = cli(
        stack,
        "submit",
        "-",
        "--wait",
        "--label",
        "via=cli",
        key=key,
        stdin=f"{pages.url('article.html')}\n# a comment\n{pages.url('nope')}\n",
    )
    assert r.returncode == 3, r.stderr
    task_id = r.stdout.strip().splitlines()[-1]
    assert "HTTP_NOT_FOUND" in r.stdout and "parse" in r.stderr  # summary table, progress bars
    r = cli(stack, "status", task_id, "--json", key=key)
    assert r.returncode == 3 and json.loads(r.stdout)["status"] == "TASK_STATUS_PARTIALLY_FAILED"
    r = cli(stack, "list", "--json", "--label", "via=cli", key=key)
    assert r.returncode == 0 and [t["id"] for t in json.loads(r.stdout)["tasks"]] == [task_id]
    r = cli(stack, "list", key=key)
    assert r.returncode == 0 and task_id in r.stdout and "1 task(s)" in r.stdout
    r = cli(stack, "dlq", "list", "--json", key=key)
    letters = json.loads(r.stdout)["dead_letters"]
    assert r.returncode == 0 and [d["error"]["code"] for d in letters] == ["HTTP_NOT_FOUND"]
    r = cli(stack, "retry", task_id, "--wait", key=key)
    assert r.returncode == 3 and "1 failed item(s) sent back" in r.stderr  # still missing: fails again
    r = cli(stack, "dlq", "purge", "--all", key=key)
    assert r.returncode == 2 and "--yes" in r.stderr
    r = cli(stack, "dlq", "purge", "--all", "--yes", "--json", key=key)
    assert r.returncode == 0 and json.loads(r.stdout)["purged_count"] >= 1
    r = cli(stack, "cancel", task_id, key=key)
    assert r.returncode == 1 and "FAILED_PRECONDITION" in r.stderr and "already finished" in r.stderr
    r = cli(stack, "watch", task_id, "--json", key=key)
    assert r.returncode == 3 and json.loads(r.stdout.splitlines()[-1])["id"] == task_id
    r = cli(stack, "submit", "--json", pages.url("field-notes.txt"), "--stage", "parse", "--priority", "high", key=key)
    assert r.returncode == 0 and json.loads(r.stdout)["priority"] == "PRIORITY_HIGH"
    # workers and queue lanes are deployment-wide: an admin key's (the development key is one)
    r = cli(stack, "workers", "--json", key=key)
    assert r.returncode == 1 and "PERMISSION_DENIED" in r.stderr and "--admin" in r.stderr
    r = cli(stack, "workers", "--json", key=stack.api_key)
    stages = {w["stage"] for w in json.loads(r.stdout)["workers"]}
    assert r.returncode == 0 and stages == {"STAGE_PARSE", "STAGE_AI", "STAGE_NOTION"}
    r = cli(stack, "queues", key=stack.api_key)
    assert r.returncode == 0 and "export" in r.stdout and "high" in r.stdout
    r = cli(stack, "stats", "--window", "1h", "--json", key=key)
    assert r.returncode == 0 and json.loads(r.stdout)["tasks_created"] == "2"  # int64 is a string in JSON
    # usage errors exit 2 and say what is wrong
    for args, says in (
        (["submit", "--priority", "urgent", "http://x.example/"], "unknown priority"),
        (["stats", "--window", "soon"], "not a duration"),
        (["list", "--label", "novalue"], "KEY=VALUE"),
        (["submit"], "nothing to submit"),
    ):
        r = cli(stack, *args, key=key, stdin="")
        assert r.returncode == 2 and says in r.stderr, (args, r.stderr)
    r = cli(stack, "status", str(uuid.uuid4()), key=key)
    assert r.returncode == 1 and "NOT_FOUND" in r.stderr
    r = cli(stack, "list", key="dk_wrong_key_0123456789")
    assert r.returncode == 1 and "UNAUTHENTICATED" in r.stderr
