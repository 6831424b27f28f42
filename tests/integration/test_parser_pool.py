"""Web pages read in worker processes: the same results as in-process, errors with their code,
a page that takes too long or a worker that dies replaced without taking the parser down."""

from __future__ import annotations

import asyncio
import os
import random
import signal

import psutil
import pytest
from distill_core.errors import DistillError, UnsupportedContent
from distill_parser.extract import extract
from distill_parser.extract_pool import ExtractPool, error_from, is_document

from tests.fakes.hostile_site import article

pytestmark = pytest.mark.timeout(120)


def big_page(paragraphs: int = 20_000) -> bytes:
    body = "".join(
        f"<div><p>Paragraph {i} about harbours, boats and the winter storms.</p></div>" for i in range(paragraphs)
    )
    return f"<html><body><article>{body}</article></body></html>".encode()


def workers() -> list[psutil.Process]:
    """This process's own extraction workers: its direct children only (a session-wide
    `distill up` of the e2e tests has a parser with a worker of its own further down)."""
    return [p for p in psutil.Process().children(recursive=False) if "distill_parser.extract_worker" in p.cmdline()]


async def test_pages_read_in_a_worker_are_read_as_in_process() -> None:
    pool = ExtractPool(1, timeout=60)
    try:
        page = article("pool")
        got = await pool.extract(page, "text/html", "https://x.example/a", None)
        want = extract(page, "text/html", "https://x.example/a")
        assert (got.text, got.title, got.content_hash, got.structured) == (
            want.text,
            want.title,
            want.content_hash,
            want.structured,
        )
        with pytest.raises(UnsupportedContent) as e:
            await pool.extract(b'{"a": 1}', "application/json", "https://x.example/j", None)
        assert e.value.code == "UNSUPPORTED_CONTENT" and e.value.details == {"content_type": "application/json"}
        assert "application/json" in e.value.message
    finally:
        await pool.close()
    await asyncio.sleep(0.5)
    assert workers() == []  # closed: no process left behind


async def test_a_page_that_takes_too_long_costs_its_worker_not_the_parser() -> None:
    pool = ExtractPool(1, timeout=0.3)
    try:
        with pytest.raises(DistillError) as e:
            await pool.extract(big_page(), "text/html", "https://x.example/big", None)
        assert (e.value.code, e.value.retryable) == ("EXTRACT_TIMEOUT", True)
        pool.timeout = 60
        ok = await pool.extract(article("after"), "text/html", "https://x.example/after", None)
        assert "Page after" in ok.text  # a fresh worker took over
    finally:
        await pool.close()


async def test_a_worker_that_dies_is_replaced() -> None:
    pool = ExtractPool(1, timeout=60)
    try:
        await pool.extract(article("first"), "text/html", "https://x.example/1", None)
        [worker] = workers()
        busy_from = sum(worker.cpu_times()[:2])
        slow = asyncio.ensure_future(pool.extract(big_page(), "text/html", "https://x.example/big", None))
        for _ in range(200):  # until it is busy with the slow page
            await asyncio.sleep(0.05)
            if sum(worker.cpu_times()[:2]) > busy_from + 0.2:
                break
        assert not slow.done()
        os.kill(worker.pid, signal.SIGKILL)  # as the kernel's OOM killer would
        with pytest.raises(DistillError) as e:
            await slow
        assert (e.value.code, e.value.retryable) == ("EXTRACT_CRASHED", True)
        ok = await pool.extract(article("second"), "text/html", "https://x.example/2", None)
        assert "Page second" in ok.text
    finally:
        await pool.close()


def test_which_bodies_go_to_the_workers() -> None:
    assert is_document(article("x"), "text/html", "https://x/")
    assert is_document(b"plain words", "text/plain", "https://x/")
    assert not is_document(b"", "text/html", "https://x/")
    assert not is_document(b"%PDF-1.4 ...", "application/pdf", "https://x/")
    assert not is_document(b"\x89PNG\r\n\x1a\n" + bytes(40), "image/png", "https://x/")
    assert not is_document(random.Random(3).randbytes(2000), "text/html", "https://x/")


def test_errors_cross_with_their_class_code_and_details() -> None:
    e = error_from(("distill_core.errors", "UnsupportedContent", "nope", "UNSUPPORTED_CONTENT", {"a": "b"}, None))
    assert isinstance(e, UnsupportedContent) and (e.message, e.code, e.details) == (
        "nope",
        "UNSUPPORTED_CONTENT",
        {"a": "b"},
    )
    e = error_from(("distill_core.errors", "RateLimited", "slow", "HTTP_RATE_LIMITED", {}, 3.0))
    assert e.retryable and e.retry_after == 3.0  # type: ignore[attr-defined]
    e = error_from(("no.such.module", "Nope", "odd", "ODD", {}, None))
    assert type(e) is DistillError and e.code == "ODD"
