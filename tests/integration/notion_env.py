"""Shared set-up of the notion stage tests: items ready for export, a fake Notion, the stage runner."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from distill_core.db.models import AiOutput, ParsedContent
from distill_core.events import publish_all
from distill_core.runner import StageRunner
from distill_notion.settings import ExportSettings
from distill_notion.stage import ExportStage
from sqlalchemy import insert, text

from tests.fakes.notion_server import FakeNotion
from tests.helpers import first_jobs, make_task, task_status, wait_for

TERMINAL = ("succeeded", "failed", "partially_failed", "cancelled")


def article(n: int, *, paragraphs: int = 12, words: int = 40, **kw: Any) -> dict[str, Any]:
    """The results of one item (what the parser and the AI stage would have stored)."""
    body = "\n".join(
        f"Paragraph {p} of article {n}: " + " ".join(f"w{(n * 31 + p * 7 + k) % 113}" for k in range(words))
        for p in range(paragraphs)
    )
    d = {
        "url": f"https://example.com/articles/{n}",
        "title": f"Article {n}",
        "text": body,
        "summary": f"Summary of article {n}.",
        "keywords": ["harbour", "storm", f"k{n}"],
        "insights": [f"Insight {n}.1", f"Insight {n}.2"],
        "recipe": None,
    }
    d.update(kw)
    return d


async def seed(
    engine: Any,
    tenant: str,
    docs: list[dict[str, Any]],
    *,
    export_options: dict[str, Any] | None = None,
    inputs: list[str] | None = None,
) -> tuple[uuid.UUID, list[dict[str, Any]]]:
    """A task whose items start at the notion stage, with their parsed content and AI output stored."""
    task_id, items = await make_task(
        engine, tenant, inputs or [d["url"] for d in docs], stages=["notion"], export_options=export_options
    )
    async with engine.begin() as conn:
        for item, d in zip(items, docs, strict=True):
            pc, ai = uuid.uuid4(), uuid.uuid4()
            await conn.execute(
                insert(ParsedContent).values(
                    id=pc,
                    tenant_id=tenant,
                    item_id=item["id"],
                    url=d["url"],
                    final_url=d["url"],
                    title=d["title"],
                    text=d["text"],
                    word_count=len(d["text"].split()),
                    recipe=d.get("recipe"),
                )
            )
            await conn.execute(
                insert(AiOutput).values(
                    id=ai,
                    tenant_id=tenant,
                    item_id=item["id"],
                    parsed_content_id=pc,
                    summary=d["summary"],
                    keywords=d["keywords"],
                    insights=d["insights"],
                    recipe=d.get("recipe"),
                    provider="local",
                    model="local",
                )
            )
            await conn.execute(
                text("UPDATE items SET parsed_content_id = :pc, ai_output_id = :ai WHERE id = :id"),
                {"pc": pc, "ai": ai, "id": item["id"]},
            )
    return task_id, items


async def run_task(
    js: Any, engine: Any, items: list[dict[str, Any]], task_id: uuid.UUID, timeout: float = 90, again: bool = False
) -> str:
    """Publish the items' jobs and wait for the task to finish; `again`: as a second delivery of the same jobs
    (a fresh Nats-Msg-Id, or JetStream would drop them as duplicates)."""
    jobs = first_jobs(items)
    if again:
        jobs = [replace(j, msg_id=f"{j.msg_id}:again:{uuid.uuid4().hex[:8]}") for j in jobs]
    await publish_all(js, jobs)
    await wait_for(lambda: _finished(engine, task_id), timeout=timeout, what="the task to finish")
    return await task_status(engine, task_id)


async def _finished(engine: Any, task_id: uuid.UUID) -> bool:
    return await task_status(engine, task_id) in TERMINAL


async def export_row(engine: Any, item_id: Any) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        r = (
            await conn.execute(
                text("SELECT * FROM exports WHERE item_id = :i AND destination = 'notion'"), {"i": item_id}
            )
        ).first()
    return dict(r._mapping) if r else None


async def phase(engine: Any, item_id: Any) -> dict[str, Any]:
    async with engine.connect() as conn:
        r = (
            await conn.execute(text("SELECT * FROM phases WHERE item_id = :i AND stage = 'notion'"), {"i": item_id})
        ).first()
    assert r is not None
    return dict(r._mapping)


async def redo(engine: Any, item: dict[str, Any], *, new_generation: bool = False) -> dict[str, Any]:
    """Put a finished item back at the notion stage, as a redelivery or a retry would find it."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    "UPDATE items SET status = 'pending', current_stage = 'notion', finished_at = NULL, "
                    "generation = generation + :g WHERE id = :id RETURNING generation"
                ),
                {"id": item["id"], "g": int(new_generation)},
            )
        ).first()
        await conn.execute(
            text("UPDATE tasks SET status = 'running', finished_at = NULL WHERE id = :t"), {"t": item["task_id"]}
        )
    assert row is not None
    return {**item, "generation": row[0]}


@dataclass
class NotionEnv:
    nats_url: str
    database_url: str
    js: Any
    engine: Any
    fake: FakeNotion
    tenant: str
    database_id: str
    data_source_id: str
    runners: list[StageRunner] = field(default_factory=list)

    def settings(self, **kw: Any) -> ExportSettings:
        base: dict[str, Any] = {
            "nats_url": self.nats_url,
            "database_url": self.database_url,
            "export_destination": "notion",
            "notion_token": self.fake.token,
            "notion_base_url": self.fake.url,
            "notion_database_id": self.database_id,
        }
        base.update(kw)
        return ExportSettings(**base)

    async def start(self, **kw: Any) -> StageRunner:
        settings = self.settings(**kw)
        runner = StageRunner(ExportStage(settings), settings)
        await runner.start()
        self.runners.append(runner)
        return runner

    async def stop(self) -> None:
        while self.runners:
            await self.runners.pop().stop()
