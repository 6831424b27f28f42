"""The export stage ("notion"): publish an item's results to its destination (notion or markdown)."""

from __future__ import annotations

import uuid
from typing import Any

from distill_core.db.models import AiOutput, Export, ParsedContent
from distill_core.db.rows import get_by_id
from distill_core.db.session import make_engine
from distill_core.errors import InvalidInput, PermanentError
from distill_core.runner import BaseStage, JobContext, StageResult, StageRunner, store
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from distill_notion.destinations.base import Destination, ExportJob
from distill_notion.destinations.markdown import MarkdownDestination
from distill_notion.settings import ExportSettings

DESTINATIONS = ("markdown", "notion")
# What the documents of a claimed batch are made of, in one query: each item's AI output and
# parsed content (the item's own, else the AI output's), only the columns a document reads,
# and its earlier Markdown export (whose file goes when the title changed).
_AI_FIELDS = ("summary", "keywords", "insights", "model", "recipe")
_PC_FIELDS = (
    "title",
    "final_url",
    "url",
    "canonical_url",
    "byline",
    "site_name",
    "description",
    "published_at",
    "language",
    "text",
    "word_count",
    "thumbnail_url",
    "recipe",
)
_BATCH = text(
    "SELECT b.n, a.id AS ai_id, "
    + "".join(f"a.{c} AS ai_{c}, " for c in _AI_FIELDS)
    + "p.id AS pc_id, "
    + "".join(f"p.{c} AS pc_{c}, " for c in _PC_FIELDS)
    + "e.external_id AS earlier FROM unnest(CAST(:items AS uuid[]), CAST(:ais AS uuid[]), CAST(:pcs AS uuid[]))"
    " WITH ORDINALITY AS b(item_id, ai_output_id, parsed_content_id, n)"
    " LEFT JOIN ai_outputs a ON a.id = b.ai_output_id"
    " LEFT JOIN parsed_contents p ON p.id = COALESCE(b.parsed_content_id, a.parsed_content_id)"
    " LEFT JOIN exports e ON e.item_id = b.item_id AND e.destination = 'markdown'"
).columns(
    **{f"ai_{c}": AiOutput.__table__.c[c].type for c in _AI_FIELDS},
    **{f"pc_{c}": ParsedContent.__table__.c[c].type for c in _PC_FIELDS},
)
_COLUMNS = ("id", "tenant_id", "item_id", "destination", "external_id", "url", "state")
ROWS = store.ResultRows(
    Export,
    _COLUMNS,
    update=("external_id", "url", "id", "state", "updated_at"),
    conflict={"constraint": "uq_exports_item_destination"},
)


class ExportStage(BaseStage):
    name = "notion"

    def __init__(self, settings: ExportSettings) -> None:
        self.settings = settings
        self.runner: StageRunner | None = None
        self.engine: AsyncEngine | None = None
        self._destinations: dict[str, Destination] = {}

    async def start(self, runner: StageRunner) -> None:
        self.runner = runner
        # Our own pool: a publish holds one connection (its advisory lock) while it runs.
        self.engine = make_engine(
            self.settings.database_url,
            pool_size=runner.cfg.concurrency + 2,
            application_name="distill-notion-export",
        )

    async def stop(self) -> None:
        for d in self._destinations.values():
            await d.close()
        self._destinations.clear()
        if self.engine is not None:
            await self.engine.dispose()

    def destination(self, name: str) -> Destination:
        d = self._destinations.get(name)
        if d is None:
            assert self.engine is not None
            if name == "markdown":
                d = MarkdownDestination(self.settings.export_dir, self.engine)
            elif name == "notion":
                from distill_notion.destinations.notion import NotionDestination

                d = NotionDestination(self.settings, self.engine)
            else:
                raise InvalidInput(
                    f"unknown export destination {name!r}: use one of {', '.join(DESTINATIONS)}",
                    code="UNKNOWN_DESTINATION",
                )
            self._destinations[name] = d
        return d

    async def prepare(self, conn: AsyncConnection, items: list[dict[str, Any]]) -> None:
        """What the documents of the whole batch need, in one query (handle() reads it from
        the items): the AI outputs, the parsed contents, the earlier Markdown exports."""
        params = {
            "items": [i["id"] for i in items],
            "ais": [i.get("ai_output_id") for i in items],
            "pcs": [i.get("parsed_content_id") for i in items],
        }
        for r in await conn.execute(_BATCH, params):
            m = r._mapping
            i = items[r.n - 1]
            i["prefetched"] = {
                "ai": None if r.ai_id is None else {c: m[f"ai_{c}"] for c in _AI_FIELDS},
                "pc": None if r.pc_id is None else {c: m[f"pc_{c}"] for c in _PC_FIELDS},
                "markdown": r.earlier,
            }

    async def _document(self, ctx: JobContext) -> dict[str, Any]:
        """Everything known about the item, from its parsed content and AI output."""
        assert self.engine is not None
        doc: dict[str, Any] = {"item_id": ctx.item_id, "task_id": ctx.task_id}
        got = ctx.item.get("prefetched")
        if got is not None:
            ai, pc = got["ai"], got["pc"]
        else:
            async with self.engine.connect() as conn:
                ai = await get_by_id(conn, AiOutput, ctx.item["ai_output_id"]) if ctx.item.get("ai_output_id") else None
                pcid = ctx.item.get("parsed_content_id") or (ai or {}).get("parsed_content_id")
                pc = await get_by_id(conn, ParsedContent, pcid) if pcid else None
        if ai is not None:
            doc.update(
                summary=ai["summary"],
                keywords=list(ai["keywords"] or []),
                insights=list(ai["insights"] or []),
                model=ai["model"],
            )
            if ai["recipe"]:
                doc["recipe"] = ai["recipe"]
        if pc is not None:
            doc.update(
                title=pc["title"],
                url=pc["final_url"] or pc["url"],
                canonical_url=pc["canonical_url"],
                byline=pc["byline"],
                site_name=pc["site_name"],
                description=pc["description"],
                published_at=pc["published_at"],
                language=pc["language"],
                text=pc["text"],
                word_count=pc["word_count"],
                thumbnail_url=pc["thumbnail_url"],
            )
            if not doc.get("recipe"):
                doc["recipe"] = pc["recipe"]
        if len(doc) <= 2:
            raise PermanentError(
                "the item has nothing to export (no parsed content or AI output)", code="NOTHING_TO_EXPORT"
            )
        return doc

    async def handle(self, ctx: JobContext) -> StageResult:
        opts = ctx.export_options
        dest = opts.get("destination") or self.settings.export_destination
        destination = self.destination(dest)
        job = ExportJob(
            item_id=ctx.item_id,
            tenant_id=ctx.tenant_id,
            result_id=ctx.result_id(),
            doc=await self._document(ctx),
            options=opts,
            attempt=ctx.attempt,
            input=str(ctx.item.get("input") or ""),
            progress=ctx.progress,
        )
        got = ctx.item.get("prefetched")
        if got is not None and dest == MarkdownDestination.name:
            job.previous, job.previous_known = got["markdown"], True
        published = await destination.publish(job)
        row = {
            "id": job.result_id,
            "tenant_id": ctx.tenant_id,
            "item_id": uuid.UUID(ctx.item_id),
            "destination": dest,
            "external_id": published.external_id,
            "url": published.url,
            "state": "complete",
        }
        message = f"exported to {dest}" + (f" ({published.note})" if published.note else "")
        return StageResult(row=row, export_id=row["id"], title=job.doc.get("title"), message=message)

    async def persist(self, conn: AsyncConnection, done: list[tuple[JobContext, StageResult]]) -> None:
        await ROWS.write(conn, done)
