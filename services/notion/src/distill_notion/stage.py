"""The export stage ("notion"): publish an item's results to its destination."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from distill_core.db.models import AiOutput, Export, ParsedContent
from distill_core.db.rows import get_by_id
from distill_core.errors import PermanentError
from distill_core.runner import BaseStage, JobContext, StageResult, StageRunner
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from distill_notion import markdown
from distill_notion.settings import ExportSettings


class ExportStage(BaseStage):
    name = "notion"

    def __init__(self, settings: ExportSettings) -> None:
        self.settings = settings
        self.runner: StageRunner | None = None

    async def start(self, runner: StageRunner) -> None:
        self.runner = runner

    async def _document(self, ctx: JobContext) -> dict[str, Any]:
        """Everything known about the item, from its parsed content and AI output."""
        assert self.runner is not None and self.runner.engine is not None
        doc: dict[str, Any] = {"item_id": ctx.item_id, "task_id": ctx.task_id}
        async with self.runner.engine.connect() as conn:
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
                published_at=pc["published_at"],
                language=pc["language"],
                text=pc["text"],
                thumbnail_url=pc["thumbnail_url"],
            )
            doc.setdefault("recipe", pc["recipe"])
        if len(doc) <= 2:
            raise PermanentError(
                "the item has nothing to export (no parsed content or AI output)", code="NOTHING_TO_EXPORT"
            )
        return doc

    async def handle(self, ctx: JobContext) -> StageResult:
        opts = ctx.export_options
        dest = opts.get("destination") or self.settings.export_destination
        doc = await self._document(ctx)
        doc["properties"] = opts.get("properties") or {}
        doc["include_text"] = opts.get("include_text", True)
        if dest == "markdown":
            path = await asyncio.to_thread(markdown.export, self.settings.export_dir.resolve(), ctx.tenant_id, doc)
            row = {"external_id": str(path), "url": path.as_uri()}
        else:
            raise PermanentError(
                "the notion destination is not available in this build", code="DESTINATION_UNAVAILABLE"
            )
        row.update(id=ctx.result_id(), tenant_id=ctx.tenant_id, item_id=uuid.UUID(ctx.item_id), destination=dest)
        return StageResult(row=row, export_id=row["id"], title=doc.get("title"), message=f"exported to {dest}")

    async def persist(self, conn: AsyncConnection, done: list[tuple[JobContext, StageResult]]) -> None:
        rows = [r.row for _, r in done]
        if rows:
            stmt = insert(Export).values(rows)
            await conn.execute(
                stmt.on_conflict_do_update(
                    constraint="uq_exports_item_destination",
                    set_={"external_id": stmt.excluded.external_id, "url": stmt.excluded.url, "id": stmt.excluded.id},
                )
            )
