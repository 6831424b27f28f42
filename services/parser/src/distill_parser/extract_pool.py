"""Reading web pages (HTML, plain text, Markdown) in worker processes.

Extraction is CPU-bound Python (lxml, trafilatura). In a thread of the parser it competes
for the GIL with the event loop that fetches, heart-beats and stores, and costs about a
quarter more CPU per page than the same work alone; in a process of its own it runs at the
speed of a bare loop, on a core of its own. A page that makes the extractor spin or crash
costs that process, not the parser: after `parser_extract_timeout` the pool is replaced and
the page fails EXTRACT_TIMEOUT; a worker that dies is replaced and the page fails
EXTRACT_CRASHED (both retryable: a page that only shared the pool with the culprit is
tried again). Files that may need OCR (PDF, images) stay in the stage's threads, where OCR
reports its progress.

A DistillError crosses the process boundary as plain data and is raised again here with
its class, code and details.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from distill_core.errors import DistillError, RetryableError, TimeoutFailure

from distill_parser.extract import HTML_TYPES, TEXT_TYPES, extract, sniff_type
from distill_parser.extracted import Extracted

DOCUMENT_TYPES = HTML_TYPES | TEXT_TYPES


def is_document(body: bytes, content_type: str, url: str) -> bool:
    """A page read without OCR (what the worker processes take)."""
    return bool(body.strip()) and sniff_type(content_type, body, url) in DOCUMENT_TYPES


def _run(body: bytes, content_type: str, url: str, charset: str | None) -> tuple[str, Any]:
    try:
        return "ok", extract(body, content_type, url, charset)
    except DistillError as e:
        cls = type(e)
        return "error", (
            cls.__module__,
            cls.__qualname__,
            e.message,
            e.code,
            e.details,
            getattr(e, "retry_after", None),
        )


def error_from(data: tuple[str, str, str, str, dict[str, str], float | None]) -> DistillError:
    """The DistillError `_run` described."""
    module, name, message, code, details, retry_after = data
    try:
        cls = getattr(importlib.import_module(module), name)
        if not (isinstance(cls, type) and issubclass(cls, DistillError)):
            raise TypeError(name)
    except (ImportError, AttributeError, TypeError):
        cls = DistillError
    err = cls.__new__(cls)
    DistillError.__init__(err, message, code=code)
    err.details = dict(details)
    if isinstance(err, RetryableError):
        err.retry_after = retry_after
    return err


def _watch_parent(parent: int) -> None:
    """In a worker: exit when the parser that started it is gone (SIGKILL leaves no orphans)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _warm() -> bool:
    extract(b"<html><body><p>A page to load the extractor.</p></body></html>", "text/html", "https://warm.up/")
    return True


class ExtractPool:
    """extract() of web pages on `processes` worker processes."""

    def __init__(self, processes: int, timeout: float) -> None:
        self.processes = processes
        self.timeout = timeout
        self.pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        # spawn: the parser holds threads and sockets that a forked child must not inherit.
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            self.processes, mp_context=ctx, max_tasks_per_child=2000, initializer=_watch_parent, initargs=(os.getpid(),)
        )
        pool.submit(_warm)  # start the workers and their imports now, not on the first page
        return pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if self.pool is broken:
            self.pool = self._new()
        for p in list((getattr(broken, "_processes", None) or {}).values()):
            p.kill()  # a hung extraction: killing its process is the only way to stop it
        broken.shutdown(wait=False, cancel_futures=True)

    async def extract(self, body: bytes, content_type: str, url: str, charset: str | None) -> Extracted:
        pool = self.pool
        try:
            future = asyncio.get_running_loop().run_in_executor(pool, _run, body, content_type, url, charset)
            async with asyncio.timeout(self.timeout):
                kind, value = await future
        except TimeoutError:
            self._replace(pool)
            raise TimeoutFailure(
                f"reading the page took longer than {self.timeout:g} s", code="EXTRACT_TIMEOUT"
            ) from None
        except BrokenProcessPool:
            self._replace(pool)
            raise RetryableError("the extraction process died while reading the page", code="EXTRACT_CRASHED") from None
        if kind == "error":
            raise error_from(value)
        return value  # type: ignore[no-any-return]

    async def close(self) -> None:
        await asyncio.to_thread(self.pool.shutdown, True, cancel_futures=True)
