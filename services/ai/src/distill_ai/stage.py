"""The AI stage: parsed content in, summary / keywords / insights / recipe out."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from distill_core.db.models import AiOutput, ParsedContent
from distill_core.db.rows import get_by_id
from distill_core.errors import PermanentError
from distill_core.runner import BaseStage, JobContext, StageResult, StageRunner
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from distill_ai import local
from distill_ai.settings import AiSettings


class AiStage(BaseStage):
    name = "ai"

    def __init__(self, settings: AiSettings) -> None:
        self.settings = settings
        self.runner: StageRunner | None = None

    async def start(self, runner: StageRunner) -> None:
        self.runner = runner

    async def _parsed(self, ctx: JobContext) -> dict[str, Any]:
        pcid = ctx.item.get("parsed_content_id")
        if not pcid:
            raise PermanentError("the item has no parsed content to work on", code="NO_PARSED_CONTENT")
        assert self.runner is not None and self.runner.engine is not None
        async with self.runner.engine.connect() as conn:
            row = await get_by_id(conn, ParsedContent, pcid)
        if row is None:
            raise PermanentError(f"parsed content {pcid} no longer exists", code="NO_PARSED_CONTENT")
        return row

    async def handle(self, ctx: JobContext) -> StageResult:
        pc = await self._parsed(ctx)
        opts = ctx.ai_options
        t0 = time.monotonic()
        text = pc.get("text") or ""
        row: dict[str, Any] = {
            "id": ctx.result_id(),
            "tenant_id": ctx.tenant_id,
            "item_id": uuid.UUID(ctx.item_id),
            "parsed_content_id": pc["id"],
            "provider": "local",
            "model": "extractive-v1",
            "recipe": pc.get("recipe"),
            "keywords": [],
            "insights": [],
            "summary": None,
            "no_content": False,
        }
        if not text.strip():
            row["no_content"] = True
            row["usage"] = {"requests": 0, "latency_ms": 0}
            return StageResult(row=row, ai_output_id=row["id"], message="no content")
        s = self.settings
        res = await asyncio.to_thread(
            local.summarize,
            text,
            n_sentences=s.ai_summary_sentences,
            n_keywords=s.ai_keywords,
            n_insights=s.ai_insights,
            language=pc.get("language"),
        )
        if opts.get("generate_summary", True):
            row["summary"] = res.summary
        if opts.get("generate_keywords", True):
            row["keywords"] = res.keywords
        if opts.get("generate_insights", True):
            row["insights"] = res.insights
        row["usage"] = {"requests": 0, "latency_ms": int((time.monotonic() - t0) * 1000)}
        return StageResult(row=row, ai_output_id=row["id"], message=f"{len(row['keywords'])} keywords")

    async def persist(self, conn: AsyncConnection, done: list[tuple[JobContext, StageResult]]) -> None:
        rows = [r.row for _, r in done]
        if rows:
            stmt = insert(AiOutput).values(rows)
            cols = {c: stmt.excluded[c] for c in rows[0] if c != "id"}
            await conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=cols))
