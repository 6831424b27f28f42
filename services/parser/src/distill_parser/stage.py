"""The parse stage: fetch the URL, extract, store a parsed_contents row."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from distill_core.db.models import ParsedContent
from distill_core.runner import BaseStage, JobContext, StageResult, StageRunner
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from distill_parser.extract import Extracted, extract
from distill_parser.fetch import Fetcher
from distill_parser.settings import ParserSettings


class ParseStage(BaseStage):
    name = "parse"

    def __init__(self, settings: ParserSettings) -> None:
        self.settings = settings
        self.fetcher: Fetcher | None = None
        self.pool = ThreadPoolExecutor(settings.parser_extract_threads, thread_name_prefix="extract")

    async def start(self, runner: StageRunner) -> None:
        self.fetcher = Fetcher(self.settings)

    async def stop(self) -> None:
        if self.fetcher:
            await self.fetcher.close()
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def handle(self, ctx: JobContext) -> StageResult:
        assert self.fetcher is not None
        url = ctx.item["input"]
        fetched = await self.fetcher.fetch(url)
        await ctx.progress(50, f"fetched {len(fetched.body) // 1024} kB")
        loop = asyncio.get_running_loop()
        ex: Extracted = await loop.run_in_executor(
            self.pool, extract, fetched.body, fetched.content_type, fetched.final_url, fetched.charset
        )
        row = row_of(ctx, url, fetched.final_url, ex)
        note = "no content" if ex.no_content else f"{ex.word_count} words"
        return StageResult(row=row, title=ex.title, parsed_content_id=row["id"], message=note)

    async def persist(self, conn: AsyncConnection, done: list[tuple[JobContext, StageResult]]) -> None:
        rows = [r.row for _, r in done]
        if not rows:
            return
        stmt = insert(ParsedContent).values(rows)
        cols = {c: stmt.excluded[c] for c in rows[0] if c != "id"}
        await conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=cols))


def row_of(ctx: JobContext, url: str, final_url: str, ex: Extracted) -> dict[str, Any]:
    return {
        "id": ctx.result_id(),
        "tenant_id": ctx.tenant_id,
        "item_id": ctx.item["id"],
        "url": url,
        "final_url": final_url,
        "canonical_url": ex.canonical_url,
        "title": ex.title,
        "byline": ex.byline,
        "site_name": ex.site_name,
        "description": ex.description,
        "published_at": ex.published_at,
        "language": ex.language,
        "text": ex.text,
        "thumbnail_url": ex.thumbnail_url,
        "content_type": ex.content_type,
        "content_hash": ex.content_hash,
        "word_count": ex.word_count,
        "structured": ex.structured,
        "recipe": ex.recipe,
        "no_content": ex.no_content,
    }
