"""Reading web pages (HTML, plain text, Markdown) in worker processes.

Extraction is CPU-bound Python (lxml, trafilatura). In a thread of the parser it competes
for the GIL with the event loop that fetches, heart-beats and stores, and costs about a
quarter more CPU per page than the same work alone; in a process of its own it runs at the
speed of a bare loop, on a core of its own. A page that makes the extractor spin or crash
costs that process, not the parser: a page still being read `parser_extract_timeout`
seconds after its worker started on it fails EXTRACT_TIMEOUT and the worker is killed and
replaced; a worker that dies is replaced and its page fails EXTRACT_CRASHED (both
retryable: a page that was only waiting behind the culprit in that worker is tried again).
Files that may need OCR (PDF, images) stay in the stage's threads, where OCR reports its
progress.

A worker is a plain child process (extract_worker.py) that reads pages from a pipe and
answers in order: no multiprocessing machinery (no resource tracker process, no manager
and feeder threads), and the parser's event loop reads the answers itself. Each worker
has at most DEPTH pages sent to it, so it never waits for the next one; a worker that has
read MAX_PAGES pages is retired (it finishes what it has and exits) and replaced, which
bounds what a slow leak in a library can grow to.

A DistillError crosses the process boundary as plain data and is raised again here with
its class, code and details.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import pickle
import struct
import sys
from collections import deque
from typing import Any

from distill_core.errors import DistillError, RetryableError, TimeoutFailure

from distill_parser.extracted import Extracted
from distill_parser.sniff import HTML_TYPES, TEXT_TYPES, sniff_type

DOCUMENT_TYPES = HTML_TYPES | TEXT_TYPES
DEPTH = 2  # pages sent to one worker at a time: the one it reads, the next one waiting in the pipe
MAX_PAGES = 2000  # pages a worker reads before it is replaced
HEADER = struct.Struct("!I")  # a frame's length, before its pickle (extract_worker.py)


def is_document(body: bytes, content_type: str, url: str) -> bool:
    """A page read without OCR (what the worker processes take)."""
    return bool(body.strip()) and sniff_type(content_type, body, url) in DOCUMENT_TYPES


def error_from(data: tuple[str, str, str, str, dict[str, str], float | None]) -> DistillError:
    """The DistillError extract_worker.answer described."""
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


def timed_out(timeout: float) -> TimeoutFailure:
    return TimeoutFailure(f"reading the page took longer than {timeout:g} s", code="EXTRACT_TIMEOUT")


def crashed() -> RetryableError:
    return RetryableError("the extraction process died while reading the page", code="EXTRACT_CRASHED")


class _Worker:
    """One worker process, the pages sent to it (answered in that order) and the task reading the answers."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.pending: deque[asyncio.Future[tuple[str, Any]]] = deque()
        self.sent = 0
        self.head_since = 0.0  # loop time the worker started on pending[0]
        self.work = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()

    def fail_all(self, first: BaseException) -> None:
        """The page being read fails with `first`; those waiting behind it with EXTRACT_CRASHED."""
        exc = first
        while self.pending:
            fut = self.pending.popleft()
            if not fut.done():
                fut.set_exception(exc)
            exc = crashed()


class ExtractPool:
    """extract() of web pages on `processes` worker processes."""

    def __init__(self, processes: int, timeout: float) -> None:
        self.processes = processes
        self.timeout = timeout
        self.workers: list[_Worker] = []  # the ones taking pages
        self.all: set[_Worker] = set()  # those and retiring ones
        self.slots = asyncio.Semaphore(processes * DEPTH)
        self.starting: asyncio.Lock | None = None
        self.closed = False

    async def start(self) -> None:
        """Start the workers now (their imports take a moment), not on the first page."""
        while len(self.workers) < self.processes:
            await self._spawn()

    async def _spawn(self) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "distill_parser.extract_worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        w = _Worker(proc)
        self.workers.append(w)
        self.all.add(w)
        w.reader = asyncio.create_task(self._read(w), name="extract-worker-reader")
        return w

    async def _worker(self) -> _Worker:
        """The worker with the fewest pages in hand (a fresh one when some are missing)."""
        if len(self.workers) < self.processes:
            self.starting = self.starting or asyncio.Lock()
            async with self.starting:
                if len(self.workers) < self.processes:
                    return await self._spawn()
        return min(self.workers, key=lambda w: len(w.pending))

    async def extract(self, body: bytes, content_type: str, url: str, charset: str | None) -> Extracted:
        if self.closed:
            raise RetryableError("the parser is stopping", code="EXTRACT_CRASHED")
        async with self.slots:
            w = await self._worker()
            data = pickle.dumps((body, content_type, url, charset), pickle.HIGHEST_PROTOCOL)
            fut: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()
            if not w.pending:
                w.head_since = asyncio.get_running_loop().time()
            w.pending.append(fut)
            w.work.set()
            w.sent += 1
            assert w.proc.stdin is not None
            try:
                w.proc.stdin.write(HEADER.pack(len(data)) + data)
                if w.sent >= MAX_PAGES:
                    self._retire(w)  # (what was written is still sent)
                await w.proc.stdin.drain()
            except (ConnectionError, RuntimeError):
                pass  # it died: its reader fails the page
            kind, value = await fut
        if kind == "ok":
            return Extracted(**value)
        if kind == "error":
            raise error_from(value)
        raise value

    def _retire(self, w: _Worker) -> None:
        """No more pages for `w`: it finishes those it has, then sees the end of its input and exits."""
        if w in self.workers:
            self.workers.remove(w)
        if w.proc.stdin is not None and not w.proc.stdin.is_closing():
            w.proc.stdin.close()

    async def _read(self, w: _Worker) -> None:
        """Answers from `w`, in order; a page it takes too long on, or its death, ends it."""
        assert w.proc.stdout is not None
        out = w.proc.stdout
        loop = asyncio.get_running_loop()
        try:
            await out.readexactly(HEADER.size)  # ready: imported and warmed up (a page's time starts now)
            w.head_since = loop.time()
            while True:
                if not w.pending:
                    if w not in self.workers:  # retired and done
                        return
                    w.work.clear()
                    await w.work.wait()
                    continue
                try:
                    async with asyncio.timeout_at(w.head_since + self.timeout):
                        head = await out.readexactly(HEADER.size)
                        payload = await out.readexactly(HEADER.unpack(head)[0])
                except TimeoutError:
                    w.fail_all(timed_out(self.timeout))
                    return
                answer = pickle.loads(payload)
                fut = w.pending.popleft()
                w.head_since = loop.time()
                if not fut.done():  # (its job may have been cancelled meanwhile)
                    fut.set_result(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            w.fail_all(crashed())
        finally:
            self._retire(w)
            self.all.discard(w)
            w.kill()  # a hung extraction: killing its process is the only way to stop it
            if w.proc.returncode is None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(w.proc.wait())
            w.fail_all(crashed())

    async def close(self) -> None:
        self.closed = True
        workers = list(self.all)
        for w in workers:
            self._retire(w)
        for w in workers:
            with contextlib.suppress(TimeoutError, ProcessLookupError):
                async with asyncio.timeout(5):
                    await w.proc.wait()
            w.kill()
            if w.reader is not None:
                w.reader.cancel()
                with contextlib.suppress(BaseException):
                    await w.reader
