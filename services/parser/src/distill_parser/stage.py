"""The parse stage: fetch the URL, extract, store a parsed_contents row."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from distill_core import subjects, tracing
from distill_core.errors import RetryableError
from distill_core.netguard import Resolver
from distill_core.runner import BaseStage, JobContext, StageResult, StageRunner
from sqlalchemy.ext.asyncio import AsyncConnection

from distill_parser import files, ocr_extract
from distill_parser.extract_pool import ExtractPool, is_document
from distill_parser.extracted import Extracted
from distill_parser.fetch import Fetched, Fetcher
from distill_parser.ocr_extract import Ocr
from distill_parser.row import ROWS, row_of
from distill_parser.settings import ParserSettings


class ParseStage(BaseStage):
    name = "parse"

    def __init__(self, settings: ParserSettings, resolver: Resolver | None = None) -> None:
        self.settings = settings
        self.resolver = resolver  # DNS for the SSRF guard; None: the system resolver
        self.fetcher: Fetcher | None = None
        self.ocr: Ocr | None = None
        self.js: Any = None  # JetStream, for uploaded files (the Object Store)
        self.pool = ThreadPoolExecutor(settings.parser_extract_threads, thread_name_prefix="extract")
        self.pages: ExtractPool | None = None  # web pages in worker processes (extract_pool.py)

    async def start(self, runner: StageRunner) -> None:
        self.fetcher = Fetcher(self.settings, self.resolver)
        if self.settings.parser_extract_processes > 0:
            self.pages = ExtractPool(self.settings.parser_extract_processes, self.settings.parser_extract_timeout)
            await self.pages.start()
        self.ocr = Ocr(self.settings)  # a bad OCR setting stops the parser here, saying which
        self.js = runner.js

    async def stop(self) -> None:
        if self.fetcher:
            await self.fetcher.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.pages is not None:
            await self.pages.close()

    async def handle(self, ctx: JobContext) -> StageResult:
        assert self.fetcher is not None
        url = ctx.item["input"]
        with tracing.span("fetch", {"server.address": urlsplit(url).hostname}, tracing.CLIENT) as sp:
            fetched = await self._fetch(ctx, url)
            tracing.set_attributes(sp, _fetch_attributes(fetched))
        if fetched.elapsed >= 1.0 or len(fetched.body) >= 1024 * 1024:  # worth telling (it costs a write)
            await ctx.progress(50, f"fetched {len(fetched.body) // 1024} kB")
        loop = asyncio.get_running_loop()
        with tracing.span("extract", {"distill.content_type": fetched.content_type}) as sp:
            job = None
            ex: Extracted
            if self.pages is not None and is_document(fetched.body, fetched.content_type, fetched.final_url):
                ex = await self.pages.extract(fetched.body, fetched.content_type, fetched.final_url, fetched.charset)
            else:  # PDFs and images (OCR), or every page when there are no worker processes
                job = self.ocr.job(_page_progress(ctx, loop)) if self.ocr else None
                ex = await loop.run_in_executor(
                    self.pool, _extract, job, fetched.body, fetched.content_type, fetched.final_url, fetched.charset
                )
            words = ex.word_count
            tracing.set_attributes(sp, {"distill.word_count": words, "distill.no_content": ex.no_content})
        if job is not None and job.pages_wanted:
            ex.structured["ocr"] = job.summary()
        if ex.title is None and (upload := subjects.upload_parts(url)):
            ex.title = upload[1]  # an uploaded file is known by its name
        row = row_of(ctx.result_id(), ctx.tenant_id, ctx.item["id"], url, fetched.final_url, ex)
        note = "no content" if ex.no_content else f"{words} words"
        if job is not None and job.note():
            note += f" ({job.note()})"
        return StageResult(row=row, title=ex.title, parsed_content_id=row["id"], message=note)

    async def _fetch(self, ctx: JobContext, url: str) -> Fetched:
        assert self.fetcher is not None
        if ctx.item.get("input_kind") == "file":  # uploaded: read from the Object Store, not fetched
            return files.as_fetched(url, await files.read_upload(self.js, url, self.settings.parser_max_file_bytes))
        try:
            return await self.fetcher.fetch(url)
        except RetryableError as e:
            # A Retry-After wait uses no attempt; a site that asks for one every time gets a
            # few, then its waits count as attempts, so the item ends (it would never, else).
            delivered = int(getattr(getattr(ctx.msg, "metadata", None), "num_delivered", 0) or 0)
            if e.retry_after is not None and delivered - ctx.attempt >= self.settings.parser_max_retry_after_waits:
                e.retry_after = None
            raise

    async def persist(self, conn: AsyncConnection, done: list[tuple[JobContext, StageResult]]) -> None:
        await ROWS.write(conn, done)


def _extract(job: Any, body: bytes, content_type: str, url: str, charset: str | None) -> Extracted:
    """extract() in an executor thread, with `job` as its OCR (the extractors are imported by the
    first file read here: a parser whose pages go to worker processes need not hold them)."""
    from distill_parser.extract import extract

    return ocr_extract.with_job(job, extract, body, content_type, url, charset)


def _page_progress(ctx: JobContext, loop: asyncio.AbstractEventLoop) -> Callable[[int, int], None]:
    """OCR's per-page report (from the extraction thread) as the phase's progress, 50-95 %."""

    def report(done: int, total: int) -> None:
        note = f"OCR page {done} of {total}"
        asyncio.run_coroutine_threadsafe(ctx.progress(50 + 45 * done // max(total, 1), note), loop)

    return report


def _fetch_attributes(f: Fetched) -> dict[str, Any]:
    return {
        "http.response.status_code": f.status,
        "http.response.body.size": len(f.body),
        "distill.redirects": len(f.redirects),
    }
