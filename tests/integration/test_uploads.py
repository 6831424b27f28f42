"""UploadFiles against a real gateway, NATS JetStream and PostgreSQL (no workers): files are
stored in the Object Store and become a task; every limit is checked while streaming and a
refused upload leaves no object, no row and no task behind; retention deletes the files."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from distill.v1 import common_pb2, pipeline_pb2, pipeline_pb2_grpc, task_pb2
from distill_client import AsyncClient, Client, FileData, InvalidArgument, ResourceExhausted, UploadProgress
from distill_core import subjects
from distill_gateway import upload_store
from distill_gateway.janitor import Janitor

from tests.integration.gateway_fixture import Gateway, client_fixture, running_gateway  # noqa: F401 (fixture)
from tests.integration.upload_samples import blank_png

pytestmark = pytest.mark.integration

FILE_LIMIT = 300_000
TASK_LIMIT = 500_000


@pytest.fixture(scope="module")
async def gw(nats_url: str, database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(
        nats_url,
        database_url,
        upload_max_file_bytes=FILE_LIMIT,
        upload_max_task_bytes=TASK_LIMIT,
        upload_max_files=5,
        create_task_rate=0,
    ) as g:
        yield g


async def stored(gw: Gateway) -> dict[str, int]:
    """Messages per subject in the uploads bucket (chunks and descriptions)."""
    info = await gw.js.stream_info(subjects.UPLOADS_STREAM, subjects_filter=f"$O.{subjects.UPLOADS_BUCKET}.>")
    return dict(info.state.subjects or {})


async def nothing_left(gw: Gateway, tenant: str, before: dict[str, int]) -> None:
    """No new object, no upload row, no task of the tenant."""
    assert await stored(gw) == before, "a refused upload left objects in the bucket"
    assert await gw.sql("SELECT id FROM uploads WHERE tenant_id = :t", t=tenant) == []
    assert await gw.sql("SELECT id FROM tasks WHERE tenant_id = :t", t=tenant) == []


async def test_files_are_stored_and_become_a_task_in_order(gw: Gateway) -> None:
    tenant, key = await gw.tenant()
    notes = b"# Field notes\n\nThe garden opened in May.\n" * 6000  # 240 kB: two chunks in the store
    png = blank_png()
    async with AsyncClient(gw.address, key) as client:
        task = await client.upload(
            [FileData("notes.md", notes), "https://example.com/page", FileData("dir/../photo.png", png)],
            labels={"via": "upload"},
            priority="high",
        )
        full = await client.get_task(task.id, include_items=True)
    assert task.input_kind == task_pb2.INPUT_KIND_FILE and task.counts.total == 3
    assert full.labels["via"] == "upload" and full.priority == 1  # PRIORITY_HIGH
    kinds = [i.input_kind for i in full.items]
    assert kinds == [task_pb2.INPUT_KIND_FILE, task_pb2.INPUT_KIND_URL, task_pb2.INPUT_KIND_FILE]
    assert full.items[1].input == "https://example.com/page"
    names = [subjects.upload_parts(i.input) for i in (full.items[0], full.items[2])]
    assert [n[1] for n in names if n] == ["notes.md", "photo.png"]  # a path is cut to its name
    # The objects are in the standard Object Store layout: nats-py's own reader gets the bytes back.
    store = await gw.js.object_store(subjects.UPLOADS_BUCKET)
    for (object_id, name), body in zip(names, (notes, png), strict=True):  # type: ignore[misc]
        got = await store.get(object_id)
        assert got.data == body and got.info.description == name
    rows = await gw.sql(
        "SELECT file_name, content_type, size_bytes, task_id FROM uploads WHERE tenant_id = :t", t=tenant
    )
    assert sorted((r["file_name"], r["content_type"], r["size_bytes"]) for r in rows) == [
        ("notes.md", "text/markdown", len(notes)),
        ("photo.png", "image/png", len(png)),
    ]
    assert {str(r["task_id"]) for r in rows} == {task.id}
    # and the parse jobs went out as for CreateTask (marked dispatched just after the answer)
    for _ in range(100):
        dispatched = await gw.sql("SELECT dispatched_at FROM items WHERE task_id = :t", t=uuid.UUID(task.id))
        if dispatched and all(r["dispatched_at"] is not None for r in dispatched):
            break
        await asyncio.sleep(0.05)
    assert dispatched and all(r["dispatched_at"] is not None for r in dispatched)


@pytest.mark.parametrize(
    ("inputs", "says", "code"),
    [
        (
            [FileData(f"part{i}.png", os.urandom(FILE_LIMIT - 10)) for i in range(2)],
            "DISTILL_UPLOAD_MAX_TASK_BYTES",
            "per upload",
        ),
        ([FileData(f"f{i}.txt", b"x") for i in range(6)], "DISTILL_UPLOAD_MAX_FILES", "more than 5"),
    ],
    ids=["task", "count"],
)
async def test_an_upload_over_a_limit_is_refused_while_streaming_and_nothing_is_kept(
    gw: Gateway, inputs: list[FileData], says: str, code: str
) -> None:
    tenant, key = await gw.tenant()
    before = await stored(gw)
    async with AsyncClient(gw.address, key) as client:
        with pytest.raises(ResourceExhausted) as e:
            await client.upload(inputs, chunk_size=64 * 1024)
    assert says in e.value.message and code in e.value.message and "nothing was stored" in e.value.message
    await nothing_left(gw, tenant, before)


async def raw_upload(gw: Gateway, key: str, stream: AsyncIterator[pipeline_pb2.UploadFilesRequest]) -> grpc.RpcError:
    """The error an UploadFiles call of these raw messages ends with."""
    async with grpc.aio.insecure_channel(gw.address) as ch:
        stub = pipeline_pb2_grpc.PipelineStub(ch)
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.UploadFiles(stream, metadata=[("authorization", f"Bearer {key}")], timeout=20)
    return e.value


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared"])
async def test_a_file_over_the_limit_is_refused_as_soon_as_it_is_known(gw: Gateway, declared: bool) -> None:
    """Declared too large: refused before any byte. Undeclared: refused at the chunk that
    crosses the limit, with the stream still unread behind it; the chunks stored are removed."""
    tenant, key = await gw.tenant()
    before = await stored(gw)
    sent: list[int] = []

    async def stream() -> AsyncIterator[pipeline_pb2.UploadFilesRequest]:
        header = pipeline_pb2.UploadFileHeader(name="scan.pdf", size_bytes=FILE_LIMIT * 10 if declared else 0)
        yield pipeline_pb2.UploadFilesRequest(file=header)
        for _ in range(50):  # 3 MB in all: the gateway answers long before reading them
            sent.append(1)
            yield pipeline_pb2.UploadFilesRequest(chunk=b"%PDF-" + bytes(60_000))
            await asyncio.sleep(0.01)

    e = await raw_upload(gw, key, stream())
    assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.details()
    assert f"'scan.pdf' is larger than {FILE_LIMIT} bytes" in (e.details() or "")
    assert "DISTILL_UPLOAD_MAX_FILE_BYTES" in (e.details() or "")
    assert len(sent) < (2 if declared else 12), f"the gateway read {len(sent)} chunks before refusing the file"
    await nothing_left(gw, tenant, before)


@pytest.mark.parametrize(
    ("messages", "says"),
    [
        ([pipeline_pb2.UploadFilesRequest(chunk=b"abc")], "chunk before any file header"),
        ([pipeline_pb2.UploadFilesRequest(file=pipeline_pb2.UploadFileHeader(name="empty.txt"))], "is empty"),
        (
            [
                pipeline_pb2.UploadFilesRequest(file=pipeline_pb2.UploadFileHeader(name="letter.docx")),
                pipeline_pb2.UploadFilesRequest(chunk=b"PK\x03\x04"),
            ],
            "accepted: image/png",
        ),
        ([pipeline_pb2.UploadFilesRequest(file=pipeline_pb2.UploadFileHeader(name="../"))], "has no name"),
        ([pipeline_pb2.UploadFilesRequest(url="ftp://example.com/x")], "only http and https"),
        ([pipeline_pb2.UploadFilesRequest()], "is empty (set options, file, chunk or url)"),
        (
            [
                pipeline_pb2.UploadFilesRequest(url="https://example.com/"),
                pipeline_pb2.UploadFilesRequest(options=pipeline_pb2.UploadOptions()),
            ],
            "options must be the first message",
        ),
        ([pipeline_pb2.UploadFilesRequest(options=pipeline_pb2.UploadOptions(stages=[2]))], "must start at 'parse'"),
        ([], "has no files"),
    ],
    ids=["chunk-first", "empty-file", "type", "no-name", "bad-url", "empty-message", "options-late", "stages", "none"],
)
async def test_a_malformed_upload_is_invalid_argument_naming_the_problem(
    gw: Gateway, messages: list[pipeline_pb2.UploadFilesRequest], says: str
) -> None:
    tenant, key = await gw.tenant()
    before = await stored(gw)

    async def stream() -> AsyncIterator[pipeline_pb2.UploadFilesRequest]:
        for m in messages:
            yield m

    e = await raw_upload(gw, key, stream())
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.details()
    assert says in (e.details() or ""), e.details()
    await nothing_left(gw, tenant, before)


async def test_a_cut_off_upload_keeps_nothing(gw: Gateway) -> None:
    tenant, key = await gw.tenant()
    before = await stored(gw)
    started = asyncio.Event()

    async def stream() -> AsyncIterator[pipeline_pb2.UploadFilesRequest]:
        yield pipeline_pb2.UploadFilesRequest(file=pipeline_pb2.UploadFileHeader(name="long.pdf"))
        for _ in range(3):
            yield pipeline_pb2.UploadFilesRequest(chunk=os.urandom(100_000))
        started.set()
        await asyncio.sleep(60)  # the client goes away in the middle

    async with grpc.aio.insecure_channel(gw.address) as ch:
        call = pipeline_pb2_grpc.PipelineStub(ch).UploadFiles(stream(), metadata=[("authorization", f"Bearer {key}")])
        await asyncio.wait_for(started.wait(), 10)
        await asyncio.sleep(0.3)  # the chunks reach the store
        assert await stored(gw) != before, "the chunks should be stored while they arrive"
        call.cancel()
    for _ in range(100):
        if await stored(gw) == before and not await gw.sql("SELECT id FROM uploads WHERE tenant_id = :t", t=tenant):
            break
        await asyncio.sleep(0.1)
    await nothing_left(gw, tenant, before)


async def test_the_same_idempotency_key_gives_the_same_task_and_stores_nothing_more(gw: Gateway) -> None:
    tenant, key = await gw.tenant()
    async with AsyncClient(gw.address, key) as client:
        first = await client.upload([FileData("a.txt", b"first words")], idempotency_key="scan-42")
        before = await stored(gw)
        again = await client.upload([FileData("b.txt", b"other words")], idempotency_key="scan-42")
    assert again.id == first.id
    assert await stored(gw) == before
    rows = await gw.sql("SELECT file_name FROM uploads WHERE tenant_id = :t", t=tenant)
    assert [r["file_name"] for r in rows] == ["a.txt"]


async def test_the_client_says_which_path_is_missing(client: AsyncClient) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.png"):
        await client.upload(["/nowhere.png"])
    with pytest.raises(InvalidArgument, match="has no files"):
        await client.upload([])


async def test_retention_deletes_a_tasks_files_and_the_janitor_collects_abandoned_uploads(gw: Gateway) -> None:
    tenant, key = await gw.tenant()
    async with AsyncClient(gw.address, key) as client:
        task = await client.upload([FileData("old.txt", b"old words " * 1000), FileData("old.png", blank_png())])
    task_id = uuid.UUID(task.id)
    ids = [r["id"] for r in await gw.sql("SELECT id FROM uploads WHERE task_id = :t", t=task_id)]
    now = await stored(gw)
    assert len(ids) == 2 and all(subjects.upload_meta_subject(i) in now for i in ids)
    # An upload cut off by a crash: its row and its chunks, no description, no task.
    orphan = upload_store.new_object_id()
    await upload_store.register(gw.engine, tenant, orphan, "crashed.pdf", "application/pdf")
    writer = upload_store.ObjectWriter(gw.js, orphan, file_name="crashed.pdf", content_type="application/pdf")
    await writer.write(os.urandom(200_000))
    assert subjects.upload_chunks_subject(orphan) in await stored(gw)
    # The task finished long ago; the crashed upload began longer ago than the upload timeout.
    old = datetime.now(UTC) - timedelta(days=gw.settings.retention_days + 1)
    await gw.sql("UPDATE items SET status = 'succeeded', finished_at = :o WHERE task_id = :t", o=old, t=task_id)
    await gw.sql("UPDATE tasks SET status = 'succeeded', finished_at = :o WHERE id = :t", o=old, t=task_id)
    await gw.sql(
        "UPDATE uploads SET created_at = :o WHERE id = :i",
        o=datetime.now(UTC) - timedelta(seconds=gw.settings.upload_timeout + 120),
        i=orphan,
    )
    done = await Janitor(gw.settings, gw.engine, gw.js).run_once()
    assert done["deleted_tasks"] >= 1 and done["deleted_uploads"] >= 1
    left = await stored(gw)
    for object_id in [*ids, orphan]:
        assert subjects.upload_chunks_subject(object_id) not in left
        assert subjects.upload_meta_subject(object_id) not in left
    assert await gw.sql("SELECT id FROM uploads WHERE tenant_id = :t", t=tenant) == []
    assert await gw.sql("SELECT id FROM tasks WHERE id = :t", t=task_id) == []


async def test_the_client_reports_the_servers_refusal_every_time(gw: Gateway) -> None:
    """The refusal comes while chunks are still on their way: the client must report the
    server's status, not a broken write (grpc.aio turns about one in three into INTERNAL)."""
    _, key = await gw.tenant()
    big = FileData("big.tiff", os.urandom(FILE_LIMIT * 4))
    async with AsyncClient(gw.address, key) as client:
        for _ in range(10):
            with pytest.raises(ResourceExhausted, match="DISTILL_UPLOAD_MAX_FILE_BYTES"):
                await client.upload([big], chunk_size=32 * 1024)


async def test_the_blocking_client_uploads_too(gw: Gateway, tmp_path: Path) -> None:
    _, key = await gw.tenant()
    (tmp_path / "note.txt").write_text("Plain words in a plain file.")
    seen: list[UploadProgress] = []

    def upload() -> task_pb2.Task:
        with Client(gw.address, key) as client:
            return client.upload([str(tmp_path / "note.txt")], progress=seen.append, stages=["parse"])

    task = await asyncio.to_thread(upload)
    assert task.counts.total == 1 and task.stages == [common_pb2.STAGE_PARSE]
    assert [(p.file, p.sent, p.total) for p in seen] == [("note.txt", 28, 28)]
