"""The report worker: makes the reports ExportTaskReport asks for (PDF, Markdown, JSON).

Not a stage: a report is not an item, has no phases and rolls up into no task, so the
stage runner (which claims items, records phases and hands items on) does not fit. This
is the same loop in small, run beside the export stage in the export service:

    JOBS distill.jobs.report --fetch--> claim the reports row (attempts + 1)
        --> read the task's results --> render (in a thread, under report_timeout)
        --> store content + status in one UPDATE --> ack

Retryable failures go back to `queued` and are nak'd with report_backoff; permanent
ones, and the last attempt, end FAILED with an ErrorInfo. Attempts are counted in
PostgreSQL, so a job whose worker dies every time fails after report_max_attempts
(JetStream redelivers it within the minute of the ack wait). A report whose task was deleted meanwhile
is dropped. On stop, fetching stops, running reports get `grace` seconds, and the rest
are given back (nak) for another replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import socket
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from distill.internal.v1 import jobs_pb2
from distill_core import errors, subjects
from distill_core import nats as dnats
from distill_core.db.session import is_unavailable, make_engine, wait_for_database
from distill_core.errors import DistillError, PermanentError
from distill_core.logging import get_logger
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import BadRequestError
from sqlalchemy.ext.asyncio import AsyncEngine

from distill_notion import report_data, report_document, report_fonts, report_markdown
from distill_notion.report_settings import ReportSettings

log = get_logger(__name__)


def render(fmt: str, doc: dict[str, Any], fonts: report_fonts.Fonts, page_size: str = "A4") -> bytes:
    """The report document in `fmt` (pdf, markdown or json) as bytes."""
    if fmt == "pdf":
        from distill_notion import report_pdf  # fpdf2 and fontTools: imported by the first PDF

        return report_pdf.render(doc, fonts, page_size)
    if fmt == "markdown":
        return report_markdown.render(doc).encode()
    if fmt == "json":
        return json.dumps(doc, ensure_ascii=False, indent=2).encode()
    raise PermanentError(f"unknown report format {fmt!r} (pdf, markdown or json)", code="UNKNOWN_REPORT_FORMAT")


def retry_delay(backoff: list[float], attempt: int, jitter: float = 0.2) -> float:
    """Seconds before the attempt after `attempt` (1-based), ±jitter."""
    if not backoff:
        return 0.0
    return backoff[min(attempt - 1, len(backoff) - 1)] * (1 + random.uniform(-jitter, jitter))


class ReportWorker:
    poll_seconds = 2.0

    def __init__(self, settings: ReportSettings, *, name: str | None = None) -> None:
        self.s = settings
        self.name = name or f"report-{socket.gethostname()}-{os.getpid()}"
        self.fonts = report_fonts.resolve_fonts(
            settings.report_font, settings.report_font_bold, settings.report_fallback_fonts
        )
        self.slots = asyncio.Semaphore(settings.report_concurrency)
        self.stopping = asyncio.Event()
        self.made = 0
        self.failed = 0
        self._running: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._own: list[str] = []

    # A worker beats every 10 s while it makes a report, so a report whose worker died is
    # delivered again within a minute, however long report_timeout is.
    ack_wait = 60.0

    async def start(self, *, nc: Any = None, engine: AsyncEngine | None = None) -> None:
        """Connect (unless given a connection and an engine), make the consumer, start fetching.
        A stopped worker may be started again."""
        self.stopping.clear()
        self._own = []
        if nc is None:
            self._own.append("nc")
        if engine is None:
            self._own.append("engine")
        self.nc = nc or await dnats.connect(self.s, self.name)
        self.js = dnats.jetstream(self.nc)
        self.engine = engine or make_engine(self.s.database_url, pool_size=2, application_name="distill-report")
        await wait_for_database(self.engine)
        await dnats.ensure_topology(self.js, self.s, stages=())
        cfg = dnats.report_consumer_config(self.ack_wait)
        try:
            await self.js.add_consumer(subjects.JOBS_STREAM, cfg)
        except BadRequestError as e:
            if e.err_code not in (10148, 10013):  # exists with another configuration: update it
                raise
            await self.js.add_consumer(subjects.JOBS_STREAM, cfg)
        self.sub = await self.js.pull_subscribe_bind(durable=subjects.REPORT_CONSUMER, stream=subjects.JOBS_STREAM)
        self._loop_task = asyncio.create_task(self._fetch_loop(), name="report-fetch")
        log.info("report worker started", worker=self.name, concurrency=self.s.report_concurrency)

    async def stop(self, grace: float = 20.0) -> None:
        """Stop fetching; running reports get `grace` seconds, then are given back."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        if self._loop_task is not None:
            _, late = await asyncio.wait({self._loop_task}, timeout=self.poll_seconds + 5)
            for t in late:
                t.cancel()
        if self._running:
            _, pending = await asyncio.wait(set(self._running), timeout=grace)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        with contextlib.suppress(Exception):
            await self.sub.unsubscribe()
        if "nc" in self._own:
            await dnats.close(self.nc)
        if "engine" in self._own:
            await self.engine.dispose()
        log.info("report worker stopped", worker=self.name, made=self.made, failed=self.failed)

    async def _fetch_loop(self) -> None:
        """One job per free slot. A stop lets the current fetch finish (a cancelled fetch
        would leave a pull request behind that swallows the next job)."""
        delay = 0.1
        while not self.stopping.is_set():
            await self.slots.acquire()
            if self.stopping.is_set():
                self.slots.release()
                return
            try:
                msgs = await self.sub.fetch(1, timeout=self.poll_seconds)
            except (TimeoutError, NatsTimeout):
                self.slots.release()
                continue
            except Exception as e:  # connection trouble: back off and try again
                self.slots.release()
                log.warning("report fetch failed", error=str(e)[:200])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            for m in msgs:
                t = asyncio.create_task(self._handle(m))
                self._running.add(t)
                t.add_done_callback(self._done)

    def _done(self, t: asyncio.Task[None]) -> None:
        self._running.discard(t)
        self.slots.release()
        if not t.cancelled() and t.exception() is not None:
            log.error("report job crashed", error=repr(t.exception())[:300])

    async def _handle(self, msg: Any) -> None:
        try:
            job = jobs_pb2.ReportJob.FromString(msg.data)
            report_id = uuid.UUID(job.report_id)
        except Exception as e:
            log.error("malformed report job dropped", error=str(e)[:200])
            await msg.term()
            return
        bound = log.bind(report_id=job.report_id, task_id=job.task_id, tenant_id=job.tenant_id)
        try:
            async with self.engine.begin() as conn:
                row = await report_data.claim(conn, report_id)
        except Exception as e:
            if not is_unavailable(e):
                raise
            await msg.nak(delay=5.0)
            return
        if row is None:  # deleted with its task, or finished by an earlier delivery
            await msg.ack()
            return
        attempt = int(row["attempts"])
        if attempt > self.s.report_max_attempts:
            err = errors.WorkerLost(
                f"the report worker stopped {attempt - 1} times while making this report", code="REPORT_ABANDONED"
            )
            await self._finish_failed(msg, report_id, err, attempt - 1, bound)
            return
        beat = asyncio.create_task(self._heartbeat(msg))
        try:
            await self._attempt(msg, row, attempt, bound)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak()  # stopping: another replica takes it
            raise
        finally:
            beat.cancel()

    async def _attempt(self, msg: Any, row: dict[str, Any], attempt: int, bound: Any) -> None:
        report_id = row["id"]
        try:
            content, doc = await asyncio.wait_for(self._make(row), self.s.report_timeout)
        except LookupError:  # the task was deleted while we read it: so is the report
            await msg.ack()
            return
        except Exception as e:
            err = errors.classify(e)
            if isinstance(e, TimeoutError):
                err = errors.TimeoutFailure(f"the report took longer than {self.s.report_timeout:g} s")
            if err.retryable and attempt < self.s.report_max_attempts:
                delay = retry_delay(self.s.report_backoff, attempt)
                async with self.engine.begin() as conn:
                    await report_data.requeue(conn, report_id, _error_json(err, attempt))
                bound.warning("report attempt failed; will retry", code=err.code, attempt=attempt, delay=delay)
                await msg.nak(delay=delay)
                return
            await self._finish_failed(msg, report_id, err, attempt, bound)
            return
        digest = hashlib.sha256(content).hexdigest()
        async with self.engine.begin() as conn:
            stored = await report_data.succeed(
                conn, report_id, content, digest, len(doc["items"]), doc["task"]["status"]
            )
        await msg.ack()
        self.made += 1
        bound.info("report made", format=row["format"], bytes=len(content), items=len(doc["items"]), stored=stored)

    async def _make(self, row: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
        async with self.engine.connect() as conn:
            task, counts, items = await report_data.load(conn, row["tenant_id"], row["task_id"])
        doc = report_document.build(task, counts, items, datetime.now(UTC))
        content = await asyncio.to_thread(render, row["format"], doc, self.fonts, self.s.report_page_size)
        if len(content) > self.s.report_max_bytes:
            raise PermanentError(
                f"the report is {len(content):,} bytes, over the limit of {self.s.report_max_bytes:,} "
                "(DISTILL_REPORT_MAX_BYTES); try the JSON or Markdown format, or a smaller task",
                code="REPORT_TOO_LARGE",
            )
        return content, doc

    async def _finish_failed(self, msg: Any, report_id: uuid.UUID, err: DistillError, attempt: int, bound: Any) -> None:
        async with self.engine.begin() as conn:
            await report_data.fail(conn, report_id, _error_json(err, attempt))
        await msg.ack()
        self.failed += 1
        bound.warning("report failed", code=err.code, attempt=attempt, error=err.message[:300])

    async def _heartbeat(self, msg: Any) -> None:
        """Keep the job ours while it runs (the ack wait restarts on each beat)."""
        while True:
            await asyncio.sleep(self.ack_wait / 6)
            with contextlib.suppress(Exception):
                await msg.in_progress()


async def run_beside(worker: ReportWorker, stop: asyncio.Event, main: Coroutine[Any, Any, None]) -> None:
    """Run `main` (the export stage) with the report worker beside it; a worker that cannot
    start stops the service (so it restarts and says why) instead of leaving reports queued."""
    started = asyncio.create_task(worker.start())

    def check(t: asyncio.Task[None]) -> None:
        if not t.cancelled() and t.exception() is not None:
            log.error("report worker could not start", error=repr(t.exception())[:300])
            stop.set()

    started.add_done_callback(check)
    try:
        await main
    finally:
        if not started.done():
            started.cancel()
            with contextlib.suppress(BaseException):
                await started
        elif not started.cancelled() and started.exception() is None:
            await worker.stop()
    if not started.cancelled() and started.exception() is not None:
        raise started.exception()  # type: ignore[misc]


def _error_json(err: DistillError, attempt: int) -> str:
    d = errors.error_dict(err, stage="report", attempt=attempt)
    d["at"] = datetime.now(UTC).isoformat()
    return json.dumps(d)
