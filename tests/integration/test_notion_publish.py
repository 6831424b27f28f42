"""The notion stage on the real runner (NATS JetStream, PostgreSQL) against the local Notion API server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from distill_core import nats as dnats
from distill_core.db.session import make_engine
from distill_core.events import publish_all
from distill_core.runner.events import job_msg
from distill_core.settings import Settings
from sqlalchemy import text

from tests.fakes.notion_server import FakeNotion, Fault, plain
from tests.helpers import item_rows, make_tenant
from tests.integration.notion_env import NotionEnv, article, export_row, phase, redo, run_task, seed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture
async def env(nats_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[NotionEnv]:
    monkeypatch.setenv("DISTILL_NOTION_BACKOFF", "0.2,0.2,0.2")
    monkeypatch.setenv("DISTILL_NOTION_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("DISTILL_LOG_LEVEL", "WARNING")
    settings = Settings(nats_url=nats_url, database_url=database_url)
    nc = await dnats.connect(settings, "test-notion")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, settings)
    await js.purge_stream("JOBS")
    engine = make_engine(database_url, pool_size=4)
    fake = FakeNotion(rate=3, burst=10).start()
    db, [ds] = fake.add_database()
    tenant, _ = await make_tenant(engine)
    e = NotionEnv(nats_url, database_url, js, engine, fake, tenant, db, ds)
    yield e
    await e.stop()
    fake.stop()
    await engine.dispose()
    await nc.close()


def long_text(paragraphs: int = 650) -> str:
    return "\n".join(
        f"Paragraph {i}: " + " ".join(f"tide{(i * 13 + k) % 89}" for k in range(45)) for i in range(paragraphs)
    )


async def test_a_long_article_publishes_whole_in_several_requests(env: NotionEnv) -> None:
    text_ = long_text() + "\n" + "Z" * 9_000 + "\n" + "終" * 30_000
    task_id, items = await seed(env.engine, env.tenant, [article(1, text=text_)])
    await env.start()
    assert await run_task(env.js, env.engine, items, task_id) == "succeeded"
    [page] = env.fake.pages(env.data_source_id)
    body = env.fake.page_text(page["id"])
    for i in range(650):
        assert f"Paragraph {i}: " in body
    assert body.count("Z") >= 9_000 and body.count("終") == 30_000
    assert "Summary of article 1." in body and "Insight 1.2" in body
    appends = env.fake.count("PATCH", "/children$")
    assert appends >= 6, f"only {appends} append requests for {len(env.fake.page_blocks(page['id']))} blocks"
    assert env.fake.rate_limited == 0
    row = await export_row(env.engine, items[0]["id"])
    assert row is not None and row["external_id"] == page["id"] and row["state"] == "complete"
    assert row["url"] == f"https://www.notion.so/{page['id'].replace('-', '')}"
    props = page["properties"]
    assert plain(props["Distill ID"]["rich_text"]) == str(items[0]["id"])
    assert plain(props["Name"]["title"]) == "Article 1"
    assert props["URL"]["url"] == "https://example.com/articles/1"
    assert [o["name"] for o in props["Tags"]["multi_select"]] == ["harbour", "storm", "k1"]


async def test_database_parents_under_notion_version_2022(env: NotionEnv) -> None:
    task_id, items = await seed(env.engine, env.tenant, [article(2)])
    await env.start(notion_version="2022-06-28")
    assert await run_task(env.js, env.engine, items, task_id) == "succeeded"
    assert len(env.fake.pages(env.data_source_id)) == 1
    versions = {r.version for r in env.fake.requests}
    assert versions == {"2022-06-28"}
    assert env.fake.count("POST", f"/v1/databases/{env.database_id}/query") == 1


async def test_a_data_source_id_works_and_a_multi_source_database_is_refused_clearly(env: NotionEnv) -> None:
    multi_db, sources = env.fake.add_database(sources=2)
    t1, items1 = await seed(env.engine, env.tenant, [article(3)], export_options={"notion_database_id": sources[1]})
    t2, items2 = await seed(env.engine, env.tenant, [article(4)], export_options={"notion_database_id": multi_db})
    await env.start()
    assert await run_task(env.js, env.engine, items1, t1) == "succeeded"
    assert len(env.fake.pages(sources[1])) == 1
    assert await run_task(env.js, env.engine, items2, t2) == "failed"
    [row] = await item_rows(env.engine, t2)
    assert row["error"]["code"] == "NOTION_AMBIGUOUS_DATABASE" and not row["error"]["retryable"]
    assert sources[0] in row["error"]["message"] and sources[1] in row["error"]["message"]


async def test_redelivery_after_publishing_makes_no_second_page(env: NotionEnv) -> None:
    task_id, items = await seed(env.engine, env.tenant, [article(5, text=long_text(250))])
    await env.start()
    assert await run_task(env.js, env.engine, items, task_id) == "succeeded"
    [page] = env.fake.pages(env.data_source_id)
    blocks = len(env.fake.page_blocks(page["id"]))
    await env.stop()

    # The worker died after publishing, before its outcome was committed: a fresh worker runs it again.
    item = await redo(env.engine, items[0])
    writes_before = env.fake.count("POST", "/v1/pages$") + env.fake.count("PATCH", "")
    await env.start()
    assert await run_task(env.js, env.engine, [item], task_id, again=True) == "succeeded"
    assert len(env.fake.pages()) == 1
    assert env.fake.count("POST", "/v1/pages$") + env.fake.count("PATCH", "") == writes_before
    assert "already published" in (await phase(env.engine, item["id"]))["message"]

    # Even with the ledger gone, the Distill ID lookup finds the page: adopted, not duplicated.
    async with env.engine.begin() as conn:
        await conn.execute(text("DELETE FROM exports WHERE item_id = :i"), {"i": item["id"]})
    item = await redo(env.engine, item)
    assert await run_task(env.js, env.engine, [item], task_id, again=True) == "succeeded"
    assert len(env.fake.pages()) == 1 and len(env.fake.page_blocks(page["id"])) == blocks
    assert (await export_row(env.engine, item["id"]))["external_id"] == page["id"]  # type: ignore[index]


async def test_a_timeout_whose_create_succeeded_makes_no_second_page(env: NotionEnv) -> None:
    task_id, items = await seed(env.engine, env.tenant, [article(6, text=long_text(300))])
    # Notion creates the page but answers after our 1 s request timeout.
    env.fake.fail(Fault(None, apply=True, delay=2.5, method="POST", path="/v1/pages$"))
    await env.start(notion_request_timeout=1.0)
    assert await run_task(env.js, env.engine, items, task_id) == "succeeded"
    [page] = env.fake.pages(env.data_source_id)
    body = env.fake.page_text(page["id"])
    assert all(body.count(f"Paragraph {i}: ") == 1 for i in range(300)), "a block went missing or twice"
    assert env.fake.count("POST", "/v1/pages$") == 1
    ph = await phase(env.engine, items[0]["id"])
    assert ph["attempts"] == 2


async def test_5xx_and_conflicts_are_retried_and_an_applied_append_is_not_repeated(env: NotionEnv) -> None:
    task_id, items = await seed(env.engine, env.tenant, [article(7, text=long_text(400))])
    env.fake.fail(
        Fault(503, method="POST", path="/query$"),
        Fault(409, method="POST", path="/v1/pages$"),
        Fault(502, apply=True, method="PATCH", path="/children$"),  # applied, but answered 502
        Fault(500, method="PATCH", path="/children$"),
    )
    await env.start()
    assert await run_task(env.js, env.engine, items, task_id) == "succeeded"
    [page] = env.fake.pages(env.data_source_id)
    body = env.fake.page_text(page["id"])
    assert all(body.count(f"Paragraph {i}: ") == 1 for i in range(400)), "a block went missing or twice"
    assert env.fake.faults == []  # every scripted fault was met


async def test_a_validation_error_is_permanent_with_notions_message(env: NotionEnv) -> None:
    task_id, items = await seed(env.engine, env.tenant, [article(8)])
    msg = "body failed validation: body.children[7].paragraph.rich_text[0].text.link.url should be a valid URL."
    env.fake.fail(Fault(400, code="validation_error", message=msg, method="POST", path="/v1/pages$"))
    await env.start()
    assert await run_task(env.js, env.engine, items, task_id) == "failed"
    [row] = await item_rows(env.engine, task_id)
    assert row["error"]["code"] == "NOTION_VALIDATION_ERROR"
    assert msg in row["error"]["message"] and row["error"]["retryable"] is False
    assert (await phase(env.engine, items[0]["id"]))["attempts"] == 1
    assert env.fake.pages() == []


async def test_retry_after_gives_the_job_back_without_using_an_attempt(env: NotionEnv) -> None:
    task_id, items = await seed(env.engine, env.tenant, [article(9)])
    env.fake.fail(Fault(429, retry_after=1, method="POST", path="/v1/pages$", times=3))
    await env.start(notion_max_wait=0.5)  # longer waits go back to the runner
    assert await run_task(env.js, env.engine, items, task_id) == "succeeded"
    assert len(env.fake.pages()) == 1
    assert (await phase(env.engine, items[0]["id"]))["attempts"] == 1
    assert env.fake.count("POST", "/v1/pages$") == 4


async def test_property_names_per_deployment_and_values_per_task(env: NotionEnv) -> None:
    schema = {"Title": "title", "Link": "url", "Topics": "multi_select", "Item": "rich_text", "Status": "select"}
    db, [ds] = env.fake.add_database(schema)
    options = {"notion_database_id": db, "properties": {"Status": "Inbox"}, "include_text": False}
    task_id, items = await seed(env.engine, env.tenant, [article(10)], export_options=options)
    await env.start(notion_property_names={"url": "Link", "tags": "Topics", "distill_id": "Item"})
    assert await run_task(env.js, env.engine, items, task_id) == "succeeded"
    [page] = env.fake.pages(ds)
    props = page["properties"]
    assert plain(props["Title"]["title"]) == "Article 10"
    assert props["Link"]["url"] == "https://example.com/articles/10"
    assert props["Status"]["select"] == {"name": "Inbox"}
    assert plain(props["Item"]["rich_text"]) == str(items[0]["id"])
    body = env.fake.page_text(page["id"])
    assert "Summary of article 10." in body and "Paragraph 0" not in body  # include_text false


async def test_a_database_without_the_distill_id_property_fails_clearly(env: NotionEnv) -> None:
    db, _ = env.fake.add_database({"Name": "title", "URL": "url"})
    task_id, items = await seed(env.engine, env.tenant, [article(11)], export_options={"notion_database_id": db})
    await env.start()
    assert await run_task(env.js, env.engine, items, task_id) == "failed"
    [row] = await item_rows(env.engine, task_id)
    assert row["error"]["code"] == "NOTION_SCHEMA" and "'Distill ID'" in row["error"]["message"]


async def test_the_token_is_never_in_errors_or_logs(env: NotionEnv, capfd: pytest.CaptureFixture[str]) -> None:
    task_id, items = await seed(env.engine, env.tenant, [article(12)])
    await env.start(notion_token="secret_not_the_right_one_987654321", log_level="DEBUG")
    assert await run_task(env.js, env.engine, items, task_id) == "failed"
    [row] = await item_rows(env.engine, task_id)
    assert row["error"]["code"] == "NOTION_UNAUTHORIZED" and "DISTILL_NOTION_TOKEN" in row["error"]["message"]
    await env.stop()
    out = capfd.readouterr()
    everything = out.out + out.err + repr(row)
    assert "secret_not_the_right_one" not in everything and env.fake.token not in everything


async def test_changed_results_replace_the_page_and_markdown_per_task(env: NotionEnv, tmp_path: Any) -> None:
    task_id, items = await seed(env.engine, env.tenant, [article(13)])
    await env.start(export_dir=tmp_path)
    assert await run_task(env.js, env.engine, items, task_id) == "succeeded"
    async with env.engine.begin() as conn:
        await conn.execute(
            text("UPDATE ai_outputs SET summary = 'A better summary.' WHERE item_id = :i"), {"i": items[0]["id"]}
        )
    item = await redo(env.engine, items[0], new_generation=True)
    await publish_all(env.js, [job_msg(item, "notion")])
    from tests.helpers import wait_for

    await wait_for(lambda: _has_summary(env.fake, "A better summary."), what="the replacement page")
    live = env.fake.pages(env.data_source_id)
    assert len(live) == 1 and len(env.fake.pages(env.data_source_id, trashed=True)) == 2
    assert "A better summary." in env.fake.page_text(live[0]["id"])

    # The same deployment, a task asking for Markdown: a file, and not one request to Notion.
    before = len(env.fake.requests)
    t2, items2 = await seed(env.engine, env.tenant, [article(14)], export_options={"destination": "markdown"})
    assert await run_task(env.js, env.engine, items2, t2) == "succeeded"
    files = list(tmp_path.rglob(f"*-{str(items2[0]['id'])[:8]}.md"))
    assert len(files) == 1 and "Summary of article 14." in files[0].read_text()
    assert len(env.fake.requests) == before


async def _has_summary(fake: FakeNotion, s: str) -> bool:
    return any(s in fake.page_text(p["id"]) for p in fake.pages())


def _uuid(x: Any) -> uuid.UUID:
    return x if isinstance(x, uuid.UUID) else uuid.UUID(str(x))


async def test_a_markdown_re_export_under_a_new_title_removes_the_earlier_file(env: NotionEnv, tmp_path: Any) -> None:
    # The earlier export is read with the claimed batch (ExportStage.prepare), not per item.
    task_id, items = await seed(env.engine, env.tenant, [article(15)], export_options={"destination": "markdown"})
    await env.start(export_dir=tmp_path)
    assert await run_task(env.js, env.engine, items, task_id) == "succeeded"
    [first] = list(tmp_path.rglob("*.md"))
    assert first.name.startswith("article-15-")
    async with env.engine.begin() as conn:
        await conn.execute(
            text("UPDATE parsed_contents SET title = 'Renamed' WHERE item_id = :i"), {"i": items[0]["id"]}
        )
    item = await redo(env.engine, items[0], new_generation=True)
    assert await run_task(env.js, env.engine, [item], task_id, again=True) == "succeeded"
    [second] = list(tmp_path.rglob("*.md"))
    assert second.name.startswith("renamed-") and not first.exists()
    async with env.engine.connect() as conn:
        q = text("SELECT external_id FROM exports WHERE item_id = :i AND destination = 'markdown'")
        assert (await conn.execute(q, {"i": item["id"]})).scalar() == str(second)


async def test_the_batch_read_gives_the_documents_an_item_read_gives(env: NotionEnv, tmp_path: Any) -> None:
    """prepare() reads a claimed batch in one query: the same documents (and earlier
    Markdown files) as handle() reads item by item without it."""
    from distill.internal.v1 import jobs_pb2
    from distill_core.runner import JobContext
    from distill_notion import ledger
    from distill_notion.settings import ExportSettings
    from distill_notion.stage import ExportStage

    recipe = {"ingredients": ["flour"], "instructions": ["Bake."], "yields": "2"}
    docs = [article(20), article(21, recipe=recipe), article(22), article(23), article(24)]
    task_id, _ = await seed(env.engine, env.tenant, docs)
    rows = await item_rows(env.engine, task_id)
    async with env.engine.begin() as conn:
        # no AI output; a parsed content found through the AI output only; an earlier export
        await conn.execute(text("UPDATE items SET ai_output_id = NULL WHERE id = :i"), {"i": rows[2]["id"]})
        await conn.execute(text("UPDATE items SET parsed_content_id = NULL WHERE id = :i"), {"i": rows[3]["id"]})
        await conn.execute(
            text(
                "INSERT INTO exports (id, tenant_id, item_id, destination, external_id, state) "
                "VALUES (:id, :t, :i, 'markdown', '/somewhere/old.md', 'complete')"
            ),
            {"id": uuid.uuid4(), "t": env.tenant, "i": rows[4]["id"]},
        )
    items = await item_rows(env.engine, task_id)
    stage = ExportStage(ExportSettings(database_url=env.database_url, export_dir=tmp_path))
    stage.engine = env.engine
    async with env.engine.connect() as conn:
        await stage.prepare(conn, items)
    documents, earlier = [], []
    for item in items:
        job = jobs_pb2.Job(item_id=str(item["id"]), task_id=str(task_id))
        ctx = JobContext(msg=None, job=job, stage="notion", item=item, attempt=1)  # type: ignore[arg-type]
        documents.append(await stage._document(ctx))
        earlier.append(item.pop("prefetched")["markdown"])
        assert documents[-1] == await stage._document(ctx)  # read by the item itself
        async with env.engine.connect() as conn:
            rec = await ledger.load(conn, str(item["id"]), "markdown")
        assert earlier[-1] == (rec.external_id if rec else None)
    assert documents[1]["recipe"] == recipe and documents[1]["keywords"] == docs[1]["keywords"]
    assert "summary" not in documents[2] and documents[2]["title"] == "Article 22"
    assert documents[3]["title"] == "Article 23" and documents[3]["summary"] == "Summary of article 23."
    assert earlier == [None, None, None, None, "/somewhere/old.md"]
