"""Files in and out over the gateway's HTTP side (httpx and raw sockets, a real gateway on real NATS
and PostgreSQL, the export service's report worker in process): a multipart upload becomes a task
whose files are stored whole; every limit is checked while the body streams in, and a refused or
abandoned upload leaves no object, row or task behind; reports are requested, followed and
downloaded whole with their type, length, name and digest; another tenant's are NOT_FOUND."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from distill_core import subjects
from distill_notion.report_worker import ReportWorker
from distill_notion.settings import ExportSettings
from pypdf import PdfReader

from tests.helpers import wait_for
from tests.integration.http_fixture import HttpGateway, http_fixture, running_http_gateway  # noqa: F401 (fixture)
from tests.integration.notion_env import article, seed
from tests.integration.upload_samples import TEXTS, encoded, text_image

pytestmark = pytest.mark.integration

FILE_LIMIT = 300_000
TASK_LIMIT = 500_000
BOUNDARY = "distill-test-boundary-7c1"


@pytest.fixture(scope="module")
async def web(nats_url: str, database_url: str) -> AsyncIterator[HttpGateway]:
    async with running_http_gateway(
        nats_url,
        database_url,
        upload_max_file_bytes=FILE_LIMIT,
        upload_max_task_bytes=TASK_LIMIT,
        upload_max_files=4,
        create_task_rate=0,
        report_inline_bytes=4096,
    ) as g:
        yield g


@pytest.fixture(scope="module")
async def worker(web: HttpGateway) -> AsyncIterator[ReportWorker]:
    s = web.gw.settings
    w = ReportWorker(ExportSettings(nats_url=s.nats_url, database_url=s.database_url), name="test-http-reports")
    await w.start()
    yield w
    await w.stop()


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["status"] == status and doc["code"] == code and doc["detail"]
    return doc


async def stored(web: HttpGateway) -> dict[str, int]:
    """Messages per subject in the uploads bucket (chunks and descriptions)."""
    info = await web.gw.js.stream_info(subjects.UPLOADS_STREAM, subjects_filter=f"$O.{subjects.UPLOADS_BUCKET}.>")
    return dict(info.state.subjects or {})


async def left_behind(web: HttpGateway, tenant: str, before: dict[str, int]) -> list[str]:
    """What a refused upload of `tenant` left: new objects, upload rows, tasks (empty: nothing)."""
    left = []
    if (now := await stored(web)) != before:
        left.append(f"objects {set(now) - set(before)}")
    if rows := await web.gw.sql("SELECT file_name FROM uploads WHERE tenant_id = :t", t=tenant):
        left.append(f"upload rows {rows}")
    if tasks := await web.gw.sql("SELECT id FROM tasks WHERE tenant_id = :t", t=tenant):
        left.append(f"tasks {tasks}")
    return left


def part(name: str, value: bytes, filename: str | None = None, kind: str = "") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n" + (f"Content-Type: {kind}\r\n" if kind else "")
    return head.encode() + b"\r\n" + value + b"\r\n"


END = f"--{BOUNDARY}--\r\n".encode()
FORM = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


# --- uploads --------------------------------------------------------------------------------


async def test_a_form_of_files_and_a_link_becomes_a_task_with_every_file_stored_whole(
    web: HttpGateway,
) -> None:
    tenant, key = await web.gw.tenant()
    photo = encoded(text_image(TEXTS[0], "DejaVuSans-Bold.ttf", 22), "PNG")  # a small photo of a recipe
    notes = b"# Field notes\n\nThe garden opened in May.\n" * 6000  # 240 kB: streamed in many pieces
    async with web.client(key) as c:
        r = await c.post(
            "/v1/uploads",
            data={"priority": "high", "label": "via=http"},
            files=[
                ("file", ("recipe.png", photo, "image/png")),
                ("url", (None, b"https://example.com/page")),
                ("file", ("notes.md", notes, "text/markdown")),
            ],
        )
        assert r.status_code == 200, r.text
        task = r.json()
        assert task["status"] == "TASK_STATUS_QUEUED" and task["input_kind"] == "INPUT_KIND_FILE"
        assert task["counts"]["total"] == 3 and task["priority"] == "PRIORITY_HIGH"
        assert task["labels"] == {"via": "http"}
        full = (await c.get(f"/v1/tasks/{task['id']}", params={"include_items": "true"})).json()
    inputs = [i["input"] for i in full["items"]]
    assert inputs[1] == "https://example.com/page", "items keep the order of the form"
    assert [i["input_kind"] for i in full["items"]] == ["INPUT_KIND_FILE", "INPUT_KIND_URL", "INPUT_KIND_FILE"]
    store = await web.gw.js.object_store(subjects.UPLOADS_BUCKET)
    for item_input, body, name in ((inputs[0], photo, "recipe.png"), (inputs[2], notes, "notes.md")):
        object_id, file_name = subjects.upload_parts(item_input)  # type: ignore[misc]
        got = await store.get(object_id)
        assert file_name == name and got.data == body, f"{name} was not stored whole"
    rows = await web.gw.sql("SELECT file_name, content_type, size_bytes FROM uploads WHERE tenant_id = :t", t=tenant)
    assert sorted((r["file_name"], r["content_type"], r["size_bytes"]) for r in rows) == [
        ("notes.md", "text/markdown", len(notes)),
        ("recipe.png", "image/png", len(photo)),
    ]


async def test_a_body_sent_in_chunks_without_a_length_is_read_as_it_comes(web: HttpGateway) -> None:
    tenant, key = await web.gw.tenant()
    data = os.urandom(200_000)

    async def body() -> AsyncIterator[bytes]:  # Transfer-Encoding: chunked, cut in odd places
        whole = part("stages", b"parse,ai") + part("file", data, "scan.pdf", "application/octet-stream") + END
        for i in range(0, len(whole), 7_777):
            yield whole[i : i + 7_777]

    async with web.client(key) as c:
        r = await c.post("/v1/uploads", content=body(), headers=FORM)
    assert r.status_code == 200, r.text
    assert r.json()["stages"] == ["STAGE_PARSE", "STAGE_AI"]
    rows = await web.gw.sql("SELECT content_type, size_bytes FROM uploads WHERE tenant_id = :t", t=tenant)
    assert rows == [{"content_type": "application/pdf", "size_bytes": len(data)}], "type from the name's extension"


OK_TXT = ("file", ("ok.txt", b"fine", "text/plain"))
REFUSED = [  # (form, HTTP status, what the message names)
    pytest.param([("file", ("big.png", b"x" * (FILE_LIMIT + 1), "image/png"))], 413, "_MAX_FILE_BYTES", id="file"),
    pytest.param(
        [("file", (f"p{i}.png", b"x" * (FILE_LIMIT - 10), "image/png")) for i in range(2)],
        413,
        "DISTILL_UPLOAD_MAX_TASK_BYTES",
        id="upload",
    ),
    pytest.param([("file", (f"f{i}.txt", b"x", "text/plain")) for i in range(5)], 413, "_MAX_FILES", id="count"),
    pytest.param([OK_TXT, ("file", ("tool.exe", b"MZ", "application/x-msdownload"))], 400, "_TYPES", id="type"),
    pytest.param([OK_TXT, ("url", (None, b"ftp://example.com/x"))], 400, "only http and https", id="url"),
    pytest.param([OK_TXT, ("file", ("empty.txt", b"", "text/plain"))], 400, "is empty", id="empty"),
    pytest.param([("priority", (None, b"urgent")), OK_TXT], 400, "priority: unknown value", id="option"),
]


@pytest.mark.parametrize(("form", "status", "says"), REFUSED)
async def test_a_refused_upload_says_why_and_leaves_nothing_behind(
    web: HttpGateway, form: list[Any], status: int, says: str
) -> None:
    tenant, key = await web.gw.tenant()
    before = await stored(web)
    async with web.client(key) as c:
        r = await c.post("/v1/uploads", files=form)
    doc = problem(r, status, "RESOURCE_EXHAUSTED" if status == 413 else "INVALID_ARGUMENT")
    assert says in doc["detail"] and doc["instance"] == "/v1/uploads", doc["detail"]
    assert await left_behind(web, tenant, before) == []


async def raw_request(web: HttpGateway, head: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    port = int(web.base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode())
    return reader, writer


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
    status = int(head.split(" ", 2)[1])
    length = next(int(ln.split(":", 1)[1]) for ln in head.split("\r\n") if ln.lower().startswith("content-length:"))
    return status, json.loads(await asyncio.wait_for(reader.readexactly(length), 10))


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def test_a_file_over_the_limit_is_refused_while_it_streams_not_after(web: HttpGateway) -> None:
    tenant, key = await web.gw.tenant()
    before = await stored(web)
    reader, writer = await raw_request(
        web,
        f"POST /v1/uploads HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    try:
        writer.write(chunked(part("file", b"", "huge.png", "image/png")[:-2]))  # the part starts...
        for _ in range(FILE_LIMIT // 65536 + 2):  # ...a little over the limit arrives, and the body never ends
            writer.write(chunked(os.urandom(65536)))
        await writer.drain()
        status, doc = await read_response(reader)
    finally:
        writer.close()
    assert status == 413 and "'huge.png' is larger than 300000 bytes" in doc["detail"], doc
    assert await left_behind(web, tenant, before) == []


async def test_a_declared_length_over_the_limit_is_refused_before_any_byte_and_auth_comes_first(
    web: HttpGateway,
) -> None:
    _, key = await web.gw.tenant()
    for auth, want in ((f"Authorization: Bearer {key}\r\n", 413), ("Authorization: Bearer dk_wrong\r\n", 401)):
        reader, writer = await raw_request(
            web,
            f"POST /v1/uploads HTTP/1.1\r\nHost: gw\r\n{auth}"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: 5000000000\r\n\r\n",
        )
        try:
            status, doc = await read_response(reader)  # not one byte of the body was sent
        finally:
            writer.close()
        assert status == want, doc
        if want == 413:
            assert "5000000000 bytes" in doc["detail"] and "DISTILL_UPLOAD_MAX_TASK_BYTES" in doc["detail"]
        else:
            assert doc["code"] == "UNAUTHENTICATED"


async def test_an_upload_cut_off_by_the_client_leaves_nothing_behind(web: HttpGateway) -> None:
    tenant, key = await web.gw.tenant()
    before = await stored(web)
    _, writer = await raw_request(
        web,
        f"POST /v1/uploads HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: 250000\r\n\r\n",
    )
    writer.write(part("file", b"", "photo.jpg", "image/jpeg")[:-2] + os.urandom(200_000))
    await writer.drain()

    async def registered() -> bool:
        return bool(await web.gw.sql("SELECT id FROM uploads WHERE tenant_id = :t", t=tenant))

    await wait_for(registered, 10, "the upload to begin")  # the gateway is storing it...
    writer.close()  # ...when the browser goes away

    async def cleaned() -> bool:
        return await left_behind(web, tenant, before) == []

    await wait_for(cleaned, 10, "the abandoned upload to be removed")


async def test_what_is_not_a_form_is_refused_saying_what_is_expected(http: httpx.AsyncClient) -> None:
    doc = problem(await http.post("/v1/uploads", json={"urls": ["https://example.com/"]}), 415, "INVALID_ARGUMENT")
    assert "multipart/form-data" in doc["detail"] and "'application/json'" in doc["detail"]
    doc = problem(await http.post("/v1/uploads", data={"priority": "low"}, files=[]), 415, "INVALID_ARGUMENT")
    assert "application/x-www-form-urlencoded" in doc["detail"]
    cut = part("file", b"abc", "a.txt", "text/plain")  # no closing delimiter
    doc = problem(await http.post("/v1/uploads", content=cut, headers=FORM), 400, "INVALID_ARGUMENT")
    assert "ended before its closing boundary" in doc["detail"]
    none = part("priority", b"low") + END
    doc = problem(await http.post("/v1/uploads", content=none, headers=FORM), 400, "INVALID_ARGUMENT")
    assert "no files" in doc["detail"]
    problem(await http.get("/v1/uploads"), 405, "UNIMPLEMENTED")


# --- reports --------------------------------------------------------------------------------


async def finished_task(web: HttpGateway, tenant: str, docs: list[dict[str, Any]]) -> str:
    """A task whose items went through every stage (as the stages leave them)."""
    task_id, _ = await seed(web.gw.engine, tenant, docs)
    await web.gw.sql(
        "UPDATE items SET status = 'succeeded', finished_at = now(), dispatched_at = now() WHERE task_id = :t",
        t=task_id,
    )
    await web.gw.sql(
        "UPDATE tasks SET status = 'succeeded', started_at = now() - interval '1 minute', finished_at = now() "
        "WHERE id = :t",
        t=task_id,
    )
    return str(task_id)


async def ready(c: httpx.AsyncClient, report_id: str, timeout: float = 60) -> dict[str, Any]:
    """GET /v1/reports/{id} until it is finished, as a browser polls it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = (await c.get(f"/v1/reports/{report_id}")).json()
        if r["status"] in ("REPORT_STATUS_SUCCEEDED", "REPORT_STATUS_FAILED"):
            return r
        await asyncio.sleep(0.2)
    raise AssertionError(f"report {report_id} not finished within {timeout} s")


DOCS = [article(1, title="Harbour storms explained"), article(2, title="Как приготовить борщ")]


async def test_a_pdf_report_is_requested_followed_and_downloaded_whole(web: HttpGateway, worker: ReportWorker) -> None:
    tenant, key = await web.gw.tenant()
    task_id = await finished_task(web, tenant, DOCS)
    async with web.client(key) as c:
        r = await c.post(f"/v1/tasks/{task_id}/reports", json={"format": "REPORT_FORMAT_PDF"})
        assert r.status_code == 200, r.text
        started = r.json()
        assert started["status"] in ("REPORT_STATUS_QUEUED", "REPORT_STATUS_RUNNING") and started["task_id"] == task_id
        done = await ready(c, started["id"])
        assert done["status"] == "REPORT_STATUS_SUCCEEDED", done
        assert done["content"] == "", "the status answer never carries the bytes"
        got = await c.get(f"/v1/reports/{done['id']}/content")
    assert got.status_code == 200
    h = got.headers
    name = f"distill-report-{task_id.replace('-', '')[:8]}.pdf"
    assert h["content-type"] == "application/pdf" and h["content-disposition"] == f'attachment; filename="{name}"'
    assert int(h["content-length"]) == len(got.content) == int(done["size_bytes"])
    assert hashlib.sha256(got.content).hexdigest() == done["sha256"] and h["etag"] == f'"{done["sha256"]}"'
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(got.content)).pages)
    for d in DOCS:
        assert d["title"] in text, f"{d['title']!r} missing from the PDF"


async def test_a_big_report_streams_in_many_chunks_and_markdown_says_its_charset(
    web: HttpGateway, worker: ReportWorker
) -> None:
    tenant, key = await web.gw.tenant()
    long = "A sentence of the long summary that goes on. " * 60
    task_id = await finished_task(web, tenant, [article(n, title=f"Long {n}", summary=long) for n in range(120)])
    async with web.client(key) as c:
        asked = [await c.post(f"/v1/tasks/{task_id}/reports", json={"format": f}) for f in ("REPORT_FORMAT_JSON", 2)]
        js, md = [await ready(c, r.json()["id"]) for r in asked]
        async with c.stream("GET", f"/v1/reports/{js['id']}/content") as s:
            pieces = [p async for p in s.aiter_raw()]
            assert s.headers["content-type"] == "application/json"
        md_got = await c.get(f"/v1/reports/{md['id']}/content")
    assert int(js["size_bytes"]) > 256 * 1024 and len(pieces) > 1
    data = b"".join(pieces)
    assert len(data) == int(js["size_bytes"]) and len(json.loads(data)["items"]) == 120
    assert md_got.headers["content-type"] == "text/markdown; charset=utf-8"
    assert md_got.headers["content-disposition"].endswith('.md"') and md_got.text.startswith("# Distill report")


async def test_reports_check_their_input_and_belong_to_their_tenant(web: HttpGateway, worker: ReportWorker) -> None:
    owner, key = await web.gw.tenant()
    _, other_key = await web.gw.tenant()
    task_id = await finished_task(web, owner, DOCS[:1])
    async with web.client(key) as mine, web.client(other_key) as theirs:
        report = await ready(mine, (await mine.post(f"/v1/tasks/{task_id}/reports", json={})).json()["id"])
        assert report["format"] == "REPORT_FORMAT_PDF", "no format means PDF"
        for method, path, body in [
            ("POST", f"/v1/tasks/{task_id}/reports", {"format": "REPORT_FORMAT_PDF"}),
            ("GET", f"/v1/reports/{report['id']}", None),
            ("GET", f"/v1/reports/{report['id']}/content", None),
        ]:
            doc = problem(await theirs.request(method, path, json=body), 404, "NOT_FOUND")
            assert "not found" in doc["detail"]
        bad = await mine.post(f"/v1/tasks/{task_id}/reports", json={"format": "REPORT_FORMAT_DOCX"})
        assert "ExportTaskReportRequest" in problem(bad, 400, "INVALID_ARGUMENT")["detail"]
        problem(await mine.get("/v1/reports/not-a-uuid"), 400, "INVALID_ARGUMENT")
        problem(await mine.get(f"/v1/reports/{uuid.uuid4()}/content"), 404, "NOT_FOUND")
        problem(await mine.get(f"/v1/reports/{report['id']}", params={"view": "full"}), 400, "INVALID_ARGUMENT")
        queued = uuid.uuid4()
        await web.gw.sql(
            "INSERT INTO reports (id, tenant_id, task_id, format, status, attempts) "
            "VALUES (:i, :t, :k, 'pdf', 'queued', 0)",
            i=queued,
            t=owner,
            k=uuid.UUID(task_id),
        )
        try:
            early = problem(await mine.get(f"/v1/reports/{queued}/content"), 400, "FAILED_PRECONDITION")
            assert "is queued" in early["detail"]
        finally:
            await web.gw.sql("DELETE FROM reports WHERE id = :i", i=queued)
