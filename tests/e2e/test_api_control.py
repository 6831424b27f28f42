"""Control over running work, against a whole `distill up` stack tuned for it (one parse
attempt, small worker TTL, four parser slots) and a page server the tests steer:
retry after the site is fixed, cancel of a big task, priority lanes, live workers."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from distill.v1 import admin_pb2, common_pb2, task_pb2
from distill_client import AsyncClient

from tests.e2e.conftest import Stack, start_stack, stop_stack

pytestmark = pytest.mark.e2e

WORKER_TTL = 3.0
PAGE = "<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>"
BODY = "".join(f"<p>Paragraph {i} of a page about tides, harbours and the ships that use them.</p>" for i in range(8))


class Site:
    """/ok/<x> answers at once, /slow/<x> after `slow` seconds, /flaky/<x> with 500 while `broken`."""

    def __init__(self) -> None:
        self.broken = True
        self.slow = 0.5
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site.lock:
                    site.hits[self.path] += 1
                if self.path.startswith("/flaky/") and site.broken:
                    self.send_error(500, "down for maintenance")
                    return
                if self.path.startswith("/slow/"):
                    time.sleep(site.slow)
                data = PAGE.format(title=f"Page {self.path}", body=BODY).encode()
                try:
                    self.send_response(200)
                    self.send_header("content-type", "text/html; charset=utf-8")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the fetch was interrupted (cancelled)
                    pass

            def log_message(self, *a: object) -> None:
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.srv.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.srv.shutdown()


@pytest.fixture(scope="module")
def tuned(tmp_root: Path) -> Iterator[Stack]:
    s = start_stack(
        tmp_root / "control-stack",
        extra_env={
            "DISTILL_PARSER_MAX_ATTEMPTS": "1",
            "DISTILL_PARSER_CONCURRENCY": "4",
            "DISTILL_PARSER_BATCH_SIZE": "4",
            "DISTILL_WORKER_TTL": str(WORKER_TTL),
        },
    )
    yield s
    stop_stack(s.proc)


def exports(stack: Stack) -> set[Path]:
    return set((stack.data_dir / "exports").rglob("*.md"))


async def until(cond, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    """Wait for an async condition; returns the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if await cond():
            return time.monotonic() - t0
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


async def test_failed_pages_succeed_after_retry_with_only_the_failed_items_rerun(tuned: Stack, site: Site) -> None:
    tag = uuid.uuid4().hex[:6]
    urls = [
        site.url(f"/ok/{tag}-a"),
        site.url(f"/flaky/{tag}-b"),
        site.url(f"/ok/{tag}-c"),
        site.url(f"/flaky/{tag}-d"),
    ]
    site.broken = True
    async with AsyncClient(tuned.gateway, tuned.api_key) as client:
        first = await client.wait((await client.submit(urls)).id, timeout=120)
        assert first.status == task_pb2.TASK_STATUS_PARTIALLY_FAILED
        failed = {it.input for it in first.items if it.status == task_pb2.ITEM_STATUS_FAILED}
        assert failed == {urls[1], urls[3]}
        assert {it.error.code for it in first.items if it.input in failed} == {"HTTP_SERVER_ERROR"}
        done_before = {it.id: it.export.url for it in first.items if it.status == task_pb2.ITEM_STATUS_SUCCEEDED}

        site.broken = False  # the site is fixed
        r = await client.retry(first.id)
        assert r.retried_count == 2 and r.task.status == task_pb2.TASK_STATUS_RUNNING
        final = await client.wait(first.id, timeout=120)
        assert final.status == task_pb2.TASK_STATUS_SUCCEEDED
        assert all(it.status == task_pb2.ITEM_STATUS_SUCCEEDED and it.export.url for it in final.items)
        # Only the failed items ran again: each good page was fetched once, each broken one twice.
        hits = {u: site.hits[u.removeprefix(site.base)] for u in urls}
        assert hits == {urls[0]: 1, urls[1]: 2, urls[2]: 1, urls[3]: 2}
        for it in final.items:
            if it.id in done_before:
                assert it.export.url == done_before[it.id]
                assert all(p.attempts == 1 for p in it.phases)
        assert (await client.retry(first.id)).retried_count == 0


async def test_cancelled_big_task_stops_with_no_further_exports(tuned: Stack, site: Site) -> None:
    tag = uuid.uuid4().hex[:6]
    site.slow = 20.0  # the parser would be stuck on these long after the cancel
    urls = [site.url(f"/ok/{tag}-{n}") for n in range(4)] + [site.url(f"/slow/{tag}-{n}") for n in range(196)]
    before = exports(tuned)
    async with AsyncClient(tuned.gateway, tuned.api_key) as client:
        task = await client.submit(urls)

        async def started() -> bool:
            busy = [w for w in (await client.list_workers("parse")).workers if w.current_item_ids]
            return (await client.get_task(task.id)).counts.succeeded >= 4 and bool(busy)

        await until(started, 60, "the fast pages to be exported and the parser to be busy with slow ones")
        t0 = time.monotonic()
        cancelled = await client.cancel(task.id)
        answered = time.monotonic() - t0
        assert cancelled.status == task_pb2.TASK_STATUS_CANCELLED
        assert cancelled.counts.cancelled >= 190 and cancelled.counts.pending == cancelled.counts.running == 0

        async def idle() -> bool:  # running fetches interrupted (heartbeats every TTL/3 s show it)
            ws = (await client.list_workers("parse")).workers
            return bool(ws) and not any(w.current_item_ids for w in ws)

        took = await until(idle, 10, "the parser to drop the cancelled task's running items")
        assert took <= 1.0 + WORKER_TTL / 3 + 0.5, f"running items interrupted after {took:.1f} s"
        exported = exports(tuned) - before
        await asyncio.sleep(3)
        assert exports(tuned) - before == exported, "exports after the cancel"
        final = await client.get_task(task.id, include_items=True)
        assert final.status == task_pb2.TASK_STATUS_CANCELLED
        statuses = Counter(task_pb2.ItemStatus.Name(it.status) for it in final.items)
        assert set(statuses) <= {"ITEM_STATUS_SUCCEEDED", "ITEM_STATUS_CANCELLED"}
        assert statuses["ITEM_STATUS_SUCCEEDED"] == len(exported) == final.counts.succeeded
        slow_fetches = sum(n for p, n in site.hits.items() if p.startswith(f"/slow/{tag}"))
        assert slow_fetches <= 8, f"{slow_fetches} slow pages were fetched; the parser has 4 slots"
    print(f"cancel answered in {answered * 1000:.0f} ms; running items interrupted within {took:.1f} s")


async def test_high_priority_overtakes_a_backlog_of_low(tuned: Stack, site: Site) -> None:
    tag = uuid.uuid4().hex[:6]
    site.slow = 0.5
    async with AsyncClient(tuned.gateway, tuned.api_key) as client:
        # 96 low pages at 0.5 s on 4 parser slots: 12 s of work queued ahead.
        low = await client.submit([site.url(f"/slow/{tag}-low-{n}") for n in range(96)], priority="low")

        async def backlog() -> bool:
            return (await client.get_task(low.id)).counts.running >= 1

        await until(backlog, 30, "the low-priority task to start")
        high = await client.submit([site.url(f"/slow/{tag}-high-{n}") for n in range(4)], priority="high")
        t0 = time.monotonic()
        done = await client.wait(high.id, timeout=60)
        took = time.monotonic() - t0
        assert done.status == task_pb2.TASK_STATUS_SUCCEEDED
        await client.cancel(low.id)

        def parse_start(it: task_pb2.Item) -> float | None:
            for p in it.phases:
                if p.stage == common_pb2.STAGE_PARSE and p.HasField("start_time"):
                    return p.start_time.ToMicroseconds() / 1e6
            return None

        last_high = max(parse_start(it) or 0.0 for it in done.items)
        lows = [parse_start(it) async for it in client.iter_items(low.id, page_size=1000)]
        overtaken = sum(1 for t in lows if t is None or t > last_high)
        # First in, first out would have started every low page before the high ones.
        assert overtaken >= 60, f"only {overtaken} of 96 low pages started after the high ones"
    print(f"HIGH task of 4 done in {took:.1f} s; it overtook {overtaken} of 96 LOW pages")


async def test_list_workers_shows_every_stage_and_loses_a_killed_one_within_the_ttl(tuned: Stack) -> None:
    async with AsyncClient(tuned.gateway, tuned.api_key) as client:
        r = await client.list_workers()
        assert r.ttl.seconds == int(WORKER_TTL)
        by_stage = {w.stage: w for w in r.workers}
        assert set(by_stage) == {common_pb2.STAGE_PARSE, common_pb2.STAGE_AI, common_pb2.STAGE_NOTION}
        for w in r.workers:
            assert (
                w.name
                and w.host
                and w.pid > 0
                and w.state in (admin_pb2.WORKER_STATE_IDLE, admin_pb2.WORKER_STATE_BUSY)
            )
            assert w.start_time.seconds and time.time() - w.last_seen_time.seconds < WORKER_TTL + 1
        parser = by_stage[common_pb2.STAGE_PARSE]
        assert parser.processed_count > 0  # the earlier tests went through it
        os.kill(parser.pid, signal.SIGKILL)

        async def gone() -> bool:
            return parser.name not in {w.name for w in (await client.list_workers()).workers}

        took = await until(gone, 3 * WORKER_TTL, "the killed parser to leave the list")
        assert took <= WORKER_TTL + 0.5, f"a dead worker was listed for {took:.1f} s (TTL {WORKER_TTL:g} s)"

        async def replaced() -> bool:  # `distill up` restarts it, as Kubernetes would
            return any(w.stage == common_pb2.STAGE_PARSE for w in (await client.list_workers()).workers)

        await until(replaced, 30, "a new parser worker")
    print(f"killed worker gone from ListWorkers after {took:.1f} s (TTL {WORKER_TTL:g} s)")
