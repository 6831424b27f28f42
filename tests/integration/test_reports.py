"""Task reports end to end on real NATS and PostgreSQL: the gateway's RPCs, the export
service's report worker, the client library and the janitor.

Tasks are seeded the way the stages leave them (parsed content, AI output, an export),
then ExportTaskReport -> the worker -> GetReport / DownloadReport.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from distill.v1 import report_pb2, task_pb2
from distill_client import AsyncClient, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from distill_core.events import publish_all
from distill_gateway.janitor import Janitor
from distill_gateway.report_store import CHUNK_BYTES, job_msg
from distill_notion.report_worker import ReportWorker
from distill_notion.settings import ExportSettings
from pypdf import PdfReader

from tests.helpers import wait_for
from tests.integration.gateway_fixture import Gateway, fail_item, running_gateway
from tests.integration.notion_env import article, seed

pytestmark = pytest.mark.integration

SOUP = {
    "title": "Carrot soup",
    "yields": "4 bowls",
    "ingredients": ["1 onion", "6 carrots", "1 l stock"],
    "instructions": ["Chop the onion and the carrots.", "Simmer in the stock for 20 minutes."],
    "prep_time_minutes": 10,
}


@pytest.fixture(scope="module")
async def gw(nats_url: str, database_url: str) -> AsyncIterator[Gateway]:
    # Small inline limit: Markdown and JSON come inline, PDFs through DownloadReport.
    async with running_gateway(nats_url, database_url, report_inline_bytes=8192) as g:
        yield g


def worker_settings(gw: Gateway, **kw: Any) -> ExportSettings:
    return ExportSettings(
        nats_url=gw.settings.nats_url, database_url=gw.settings.database_url, report_backoff=[0.2], **kw
    )


@pytest.fixture(scope="module")
async def worker(gw: Gateway) -> AsyncIterator[ReportWorker]:
    w = ReportWorker(worker_settings(gw), name="test-reports")
    await w.start()
    yield w
    await w.stop()


async def finished_task(gw: Gateway, tenant: str, docs: list[dict[str, Any]], *, fail_last: bool = False) -> Any:
    """A task whose items went through every stage (the last one failed at parse with `fail_last`)."""
    task_id, items = await seed(gw.engine, tenant, docs)
    await gw.sql(
        "UPDATE items SET status = 'succeeded', finished_at = now(), dispatched_at = now() WHERE task_id = :t",
        t=task_id,
    )
    if fail_last:
        await fail_item(gw, str(items[-1]["id"]), "parse", "HTTP_NOT_FOUND")
    status = "partially_failed" if fail_last else "succeeded"
    await gw.sql(
        "UPDATE tasks SET status = :s, started_at = now() - interval '2 minutes', finished_at = now(), "
        "labels = CAST(:l AS jsonb) WHERE id = :t",
        s=status,
        l='{"list": "reading"}',
        t=task_id,
    )
    return str(task_id)


async def make(client: AsyncClient, task_id: str, fmt: str) -> tuple[report_pb2.Report, bytes]:
    started = await client.export_report(task_id, fmt)
    assert started.status in (report_pb2.REPORT_STATUS_QUEUED, report_pb2.REPORT_STATUS_RUNNING)
    done = await client.wait_report(started.id, timeout=60)
    assert done.status == report_pb2.REPORT_STATUS_SUCCEEDED, done.error
    return done, await client.report_content(done)


async def report_row(
    gw: Gateway,
    tenant: str,
    task_id: str,
    *,
    fmt: str = "pdf",
    status: str = "queued",
    attempts: int = 0,
    age_minutes: int = 0,
) -> uuid.UUID:
    """A reports row as ExportTaskReport writes it, without publishing its job."""
    rid = uuid.uuid4()
    await gw.sql(
        "INSERT INTO reports (id, tenant_id, task_id, format, status, attempts, created_at, updated_at) "
        "VALUES (:i, :t, :k, :f, :s, :a, now() - make_interval(mins => :m), now() - make_interval(mins => :m))",
        i=rid,
        t=tenant,
        k=uuid.UUID(task_id),
        f=fmt,
        s=status,
        a=attempts,
        m=age_minutes,
    )
    return rid


async def janitor_until(gw: Gateway, what: str) -> None:
    """Janitor rounds until one did `what` (the gateway's own janitor may hold the lock for a round)."""

    async def did() -> bool:
        return (await Janitor(gw.settings, gw.engine, gw.js).run_once())[what] > 0

    await wait_for(did, timeout=15, what=f"a janitor round with {what}")


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


DOCS = [
    article(1, title="Harbour storms explained"),
    article(2, title="Как приготовить борщ", summary="Свёкла, капуста и терпение.", keywords=["борщ", "суп"]),
    article(3, title="Carrot soup for four", recipe=SOUP),
]


async def test_pdf_report_holds_the_cover_and_every_items_title_summary_and_recipe(
    gw: Gateway, worker: ReportWorker
) -> None:
    tenant, key = await gw.tenant()
    async with AsyncClient(gw.address, key) as c:
        task_id = await finished_task(gw, tenant, [*DOCS, article(4, title="Gone page")], fail_last=True)
        report, data = await make(c, task_id, "pdf")
    assert data.startswith(b"%PDF-") and report.content_type == "application/pdf"
    assert report.filename == f"distill-report-{task_id.replace('-', '')[:8]}.pdf"
    assert not report.content, "a PDF over DISTILL_REPORT_INLINE_BYTES comes through DownloadReport"
    assert report.item_count == 4 and report.task_status == task_pb2.TASK_STATUS_PARTIALLY_FAILED
    text = pdf_text(data)
    for d in [*DOCS, {"title": "Gone page"}]:
        assert d["title"] in text, f"{d['title']!r} missing from the PDF"
    assert "Summary of article 1." in text and "Свёкла, капуста и терпение." in text
    assert "harbour, storm, k1" in text and "Insight 1.2" in text
    assert "6 carrots" in text and "Simmer in the stock for 20 minutes." in text
    assert "HTTP_NOT_FOUND" in text and "partially_failed" in text and "list=reading" in text
    reader = PdfReader(io.BytesIO(data))
    assert [o.title for o in reader.outline][:2] == ["1. Harbour storms explained", "2. Как приготовить борщ"]


async def test_markdown_and_json_reports_carry_each_items_fields(gw: Gateway, worker: ReportWorker) -> None:
    tenant, key = await gw.tenant()
    async with AsyncClient(gw.address, key) as c:
        task_id = await finished_task(gw, tenant, DOCS)
        md_report, md = await make(c, task_id, "md")
        js_report, raw = await make(c, task_id, "json")
    assert md_report.content == md and md_report.content_type == "text/markdown; charset=utf-8"
    text = md.decode()
    assert text.startswith(f"# Distill report: task {task_id}")
    assert "## 3. Carrot soup for four" in text and "- [ ] 6 carrots" in text and "1. Chop the onion" in text
    assert "Source: <https://example.com/articles/2>" in text and "борщ, суп" in text
    doc = json.loads(raw)
    assert js_report.filename.endswith(".json") and doc["report"]["format_version"] == 1
    assert doc["task"]["id"] == task_id and doc["task"]["status"] == "succeeded" and doc["task"]["finished"]
    assert doc["task"]["counts"]["total"] == 3 and doc["task"]["counts"]["succeeded"] == 3
    assert doc["task"]["labels"] == {"list": "reading"}
    assert [i["title"] for i in doc["items"]] == [d["title"] for d in DOCS]
    first = doc["items"][0]
    assert first["summary"] == "Summary of article 1." and first["keywords"] == ["harbour", "storm", "k1"]
    assert first["insights"] == ["Insight 1.1", "Insight 1.2"] and first["source"]["url"].endswith("/articles/1")
    assert doc["items"][2]["recipe"]["ingredients"] == SOUP["ingredients"]


async def test_a_big_report_comes_in_chunks_that_add_up(gw: Gateway, worker: ReportWorker) -> None:
    tenant, key = await gw.tenant()
    long = "A sentence of the long summary that goes on. " * 60  # ~2.7 kB per item
    docs = [article(n, title=f"Long article {n}", summary=long) for n in range(120)]
    async with AsyncClient(gw.address, key) as c:
        task_id = await finished_task(gw, tenant, docs)
        report = await c.wait_report((await c.export_report(task_id, "json")).id, timeout=60)
        chunks = [ch async for ch in c.download_report(report.id)]
    assert report.size_bytes > CHUNK_BYTES and not report.content
    assert len(chunks) >= 2 and chunks[0].report.id == report.id and not chunks[1].HasField("report")
    assert [ch.offset for ch in chunks] == [sum(len(x.data) for x in chunks[:n]) for n in range(len(chunks))]
    data = b"".join(ch.data for ch in chunks)
    assert len(data) == report.size_bytes and len(json.loads(data)["items"]) == 120


async def test_a_report_of_an_unfinished_task_says_so(gw: Gateway, worker: ReportWorker) -> None:
    tenant, key = await gw.tenant()
    task_id, items = await seed(gw.engine, tenant, DOCS[:2])
    await gw.sql("UPDATE items SET status = 'succeeded', finished_at = now() WHERE id = :i", i=items[0]["id"])
    await gw.sql("UPDATE tasks SET status = 'running', started_at = now() WHERE id = :t", t=task_id)
    async with AsyncClient(gw.address, key) as c:
        report, raw = await make(c, str(task_id), "json")
        _, pdf = await make(c, str(task_id), "pdf")
    doc = json.loads(raw)
    assert report.task_status == task_pb2.TASK_STATUS_RUNNING and not doc["task"]["finished"]
    assert [i["status"] for i in doc["items"]] == ["succeeded", "pending"]
    assert "had not finished" in pdf_text(pdf)


async def test_another_tenants_task_and_report_are_not_found(gw: Gateway, worker: ReportWorker) -> None:
    owner, owner_key = await gw.tenant()
    _, other_key = await gw.tenant()
    task_id = await finished_task(gw, owner, DOCS[:1])
    async with AsyncClient(gw.address, owner_key) as mine, AsyncClient(gw.address, other_key) as theirs:
        report, _ = await make(mine, task_id, "md")
        with pytest.raises(NotFound, match=f"task {task_id} not found"):
            await theirs.export_report(task_id, "pdf")
        with pytest.raises(NotFound, match=f"report {report.id} not found"):
            await theirs.get_report(report.id)
        with pytest.raises(NotFound, match=f"report {report.id} not found"):
            [chunk async for chunk in theirs.download_report(report.id)]
        assert (await mine.get_report(report.id)).status == report_pb2.REPORT_STATUS_SUCCEEDED


async def test_bad_requests_say_what_is_wrong(gw: Gateway) -> None:
    tenant, key = await gw.tenant()
    task_id = await finished_task(gw, tenant, DOCS[:1])
    client = AsyncClient(gw.address, key)
    with pytest.raises(InvalidArgument, match="task_id"):
        await client.export_report("not-a-uuid", "pdf")
    with pytest.raises(InvalidArgument, match="format: unknown value 9"):
        await client.export_report(task_id, 9)
    with pytest.raises(ValueError, match="unknown report format 'docx'"):
        await client.export_report(task_id, "docx")
    queued = await report_row(gw, tenant, task_id)  # a report nobody has made yet (no job: no worker takes it)
    with pytest.raises(FailedPrecondition, match="is queued: it can be downloaded once GetReport says SUCCEEDED"):
        await client.report_content(str(queued))
    await gw.sql("DELETE FROM reports WHERE id = :i", i=queued)
    with pytest.raises(NotFound, match=r"report \S+ not found"):
        await client.get_report(str(uuid.uuid4()))
    with pytest.raises(NotFound, match=r"report \S+ not found"):
        [chunk async for chunk in client.download_report(str(uuid.uuid4()))]
    await client.close()


async def test_a_tenant_may_have_only_so_many_reports_in_the_making(gw: Gateway) -> None:
    tenant, key = await gw.tenant()
    task_id = await finished_task(gw, tenant, DOCS[:1])
    limit = gw.settings.report_max_active
    for _ in range(limit):
        await report_row(gw, tenant, task_id)
    try:
        async with AsyncClient(gw.address, key) as c:
            with pytest.raises(ResourceExhausted, match=f"{limit} reports are already queued or running.*MAX_ACTIVE"):
                await c.export_report(task_id, "pdf")
    finally:
        await gw.sql("DELETE FROM reports WHERE tenant_id = :t", t=tenant)


async def test_a_new_report_removes_the_oldest_finished_ones_beyond_the_limit(gw: Gateway) -> None:
    tenant, key = await gw.tenant()
    task_id = await finished_task(gw, tenant, DOCS[:1])
    keep = gw.settings.report_keep_per_task
    old = [await report_row(gw, tenant, task_id, status="succeeded", age_minutes=100 - n) for n in range(keep)]
    running = await report_row(gw, tenant, task_id, status="running", age_minutes=200)  # never removed
    async with AsyncClient(gw.address, key) as c:
        new = await c.export_report(task_id, "json")
    left = {r["id"] for r in await gw.sql("SELECT id FROM reports WHERE task_id = :t", t=uuid.UUID(task_id))}
    assert left == {*old[1:], running, uuid.UUID(new.id)}, "the oldest finished report makes room for the new one"
    await gw.sql("DELETE FROM reports WHERE task_id = :t", t=uuid.UUID(task_id))


async def test_reports_are_deleted_with_their_task(gw: Gateway, worker: ReportWorker) -> None:
    tenant, key = await gw.tenant()
    task_id = await finished_task(gw, tenant, DOCS[:2])
    async with AsyncClient(gw.address, key) as c:
        report, _ = await make(c, task_id, "pdf")
        await gw.sql("UPDATE tasks SET finished_at = now() - interval '8 days' WHERE id = :t", t=uuid.UUID(task_id))
        await janitor_until(gw, "deleted_tasks")
        with pytest.raises(NotFound):
            await c.get_report(report.id)
    assert not await gw.sql("SELECT id FROM reports WHERE task_id = :t", t=uuid.UUID(task_id))


async def test_a_report_whose_job_was_lost_is_made_after_the_janitor_publishes_it_again(
    gw: Gateway, worker: ReportWorker
) -> None:
    tenant, key = await gw.tenant()
    task_id = await finished_task(gw, tenant, DOCS[:1])
    lost = await report_row(gw, tenant, task_id, fmt="json", age_minutes=20)  # its job was never published
    await janitor_until(gw, "requeued_reports")
    async with AsyncClient(gw.address, key) as c:
        report = await c.wait_report(str(lost), timeout=30)
        assert report.status == report_pb2.REPORT_STATUS_SUCCEEDED
        assert json.loads(await c.report_content(report))["task"]["id"] == task_id


async def test_failures_end_the_report_failed_with_a_reason(gw: Gateway, worker: ReportWorker) -> None:
    tenant, key = await gw.tenant()
    task_id = await finished_task(gw, tenant, DOCS)
    await worker.stop()  # this test's workers instead
    small = ReportWorker(worker_settings(gw, report_max_bytes=1024, report_max_attempts=2), name="test-small")
    await small.start()
    try:
        async with AsyncClient(gw.address, key) as c:
            too_big = await c.wait_report((await c.export_report(task_id, "pdf")).id, timeout=30)
            assert too_big.status == report_pb2.REPORT_STATUS_FAILED and too_big.error.code == "REPORT_TOO_LARGE"
            assert "DISTILL_REPORT_MAX_BYTES" in too_big.error.message and too_big.attempts == 1
            # A job whose worker died on both attempts it had: JetStream delivers it again, and that ends it.
            dying = await report_row(gw, tenant, task_id, fmt="markdown", status="running", attempts=2)
            await publish_all(gw.js, [job_msg(dying, uuid.UUID(task_id), tenant)])
            abandoned = await c.wait_report(str(dying), timeout=30)
            assert abandoned.error.code == "REPORT_ABANDONED" and "stopped 2 times" in abandoned.error.message
            with pytest.raises(FailedPrecondition, match="is failed"):
                await c.report_content(abandoned)
    finally:
        await small.stop()
        await worker.start()


async def test_the_client_saves_the_file_and_the_command_line_writes_it(
    gw: Gateway, worker: ReportWorker, tmp_path: Any
) -> None:
    import asyncio
    import sys
    from pathlib import Path

    tenant, key = await gw.tenant()
    task_id = await finished_task(gw, tenant, DOCS)
    async with AsyncClient(gw.address, key) as c:
        report = await c.wait_report((await c.export_report(task_id, "pdf")).id, timeout=60)
        saved = await c.save_report(report, tmp_path / "by-client.pdf")
    assert all(d["title"] in pdf_text(saved.read_bytes()) for d in DOCS)

    distill = str(Path(sys.executable).parent / "distill")

    async def cli(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            distill, "report", task_id, "--gateway", gw.address, "--api-key", key, *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, out.decode(), err.decode()

    code, out, err = await cli("--format", "pdf", "-o", str(tmp_path / "task.pdf"), "--json")
    assert code == 0, err
    meta = json.loads(out)
    assert meta["status"] == "REPORT_STATUS_SUCCEEDED" and meta["path"] == str(tmp_path / "task.pdf")
    assert "content" not in meta and f"wrote {tmp_path / 'task.pdf'}" in err
    assert all(d["title"] in pdf_text((tmp_path / "task.pdf").read_bytes()) for d in DOCS)
    code, out, err = await cli("--format", "json", "-o", "-")
    assert code == 0, err
    assert [i["title"] for i in json.loads(out)["items"]] == [d["title"] for d in DOCS]
    code, _, err = await cli("--format", "md")  # no -o: the report's own name, here
    assert code == 0 and list(tmp_path.glob("distill-report-*.md")), err
    code, _, err = await cli("--format", "docx")
    assert code == 2 and "--format must be one of pdf, md, json, not 'docx'" in err
    other_key = (await gw.tenant())[1]
    proc = await asyncio.create_subprocess_exec(
        distill, "report", task_id, "--gateway", gw.address, "--api-key", other_key,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    _, err_b = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1 and f"task {task_id} not found" in err_b.decode()
