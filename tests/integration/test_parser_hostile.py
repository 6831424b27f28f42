"""The parser worker (`python -m distill_parser`: the real runner on NATS JetStream and
PostgreSQL) against a hostile local site.

One task holds every bad input of the issue next to good pages: a server that trickles one
byte a second, one that sends 1 GB, a gzip bomb, a redirect loop, redirects to 127.0.0.1 and
to 169.254.169.254, a windows-1251 page without a charset, a binary file named .html, an
empty 200, a 500 then 200, a 429 with Retry-After, a 404, and a page whose data PostgreSQL
would refuse as it is. Each ends with the right item status and error code, the good pages
finish while the slow ones are still being tried, and the worker's memory stays bounded
(its RSS and its extraction worker's, sampled while it works, against what they used after
a warm-up task).

The deployment refuses private networks except 127.0.0.2 (`parser_allowed_networks`), where
the site listens; a trap on 127.0.0.1 counts every request that reaches it (there must be none).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from distill_core import nats as dnats
from distill_core.db.session import make_engine
from distill_core.events import publish_all
from distill_parser.settings import ParserSettings
from sqlalchemy import text

from tests.fakes.hostile_site import RUSSIAN, HostileSite, gzip_bomb
from tests.helpers import first_jobs, make_task, make_tenant, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CAP = 1024 * 1024
HOSTILE_DATA = (
    '<!doctype html><html lang="' + "x" * 200 + '"><head><title>Odd data</title>'
    '<script type="application/ld+json">{"@type": "Article", "headline": "NUL \\u0000 and a lone \\ud800 surrogate",'
    ' "author": {"name": "Ingrid\\u0000"}}</script></head><body><article><p>'
    + "A page whose data holds what PostgreSQL refuses. " * 20
    + "\x00</p></article></body></html>"
)


@pytest.fixture
def sites() -> Iterator[tuple[HostileSite, HostileSite]]:
    gzip_bomb()  # made once here (200 MB through zlib): not within the 2 s a fetch of /bomb may take
    site = HostileSite("127.0.0.2")
    trap = HostileSite("127.0.0.1")
    yield site, trap
    site.close()
    trap.close()


@pytest.fixture
async def env(nats_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    monkeypatch.setenv("DISTILL_PARSER_BACKOFF", "0.3")
    monkeypatch.setenv("DISTILL_PARSER_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("DISTILL_LOG_LEVEL", "WARNING")
    base = ParserSettings(nats_url=nats_url, database_url=database_url)
    nc = await dnats.connect(base, "test-parser")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, base)
    await js.purge_stream("JOBS")
    engine = make_engine(database_url, pool_size=4)
    tenant, _ = await make_tenant(engine)
    yield {"nats_url": nats_url, "database_url": database_url, "js": js, "engine": engine, "tenant": tenant}
    await engine.dispose()
    await nc.close()


def start_worker(env: dict[str, Any], log: Path) -> subprocess.Popen[bytes]:
    worker_env = dict(
        os.environ,
        DISTILL_NATS_URL=env["nats_url"],
        DISTILL_DATABASE_URL=env["database_url"],
        DISTILL_PARSER_ALLOW_PRIVATE_NETWORKS="false",
        DISTILL_PARSER_ALLOWED_NETWORKS="127.0.0.2/32",
        DISTILL_PARSER_MAX_BYTES=str(CAP),
        DISTILL_PARSER_TOTAL_TIMEOUT="2",
        DISTILL_PARSER_HOST_DELAY="0",
        DISTILL_PARSER_PER_HOST_CONCURRENCY="8",
        DISTILL_PARSER_BACKOFF="0.3",
        DISTILL_PARSER_MAX_ATTEMPTS="2",
        DISTILL_HEALTH_PORT="0",
        DISTILL_METRICS_PORT="0",
        DISTILL_LOG_LEVEL="INFO",
        DISTILL_LOG_FORMAT="json",
    )
    out = open(log, "ab")
    return subprocess.Popen([sys.executable, "-m", "distill_parser"], env=worker_env, stdout=out, stderr=out)


async def run_task(env: dict[str, Any], urls: list[str], timeout: float) -> Any:
    task_id, items = await make_task(env["engine"], env["tenant"], urls, stages=["parse"])
    await publish_all(env["js"], first_jobs(items))

    async def finished() -> bool:
        async with env["engine"].connect() as conn:
            r = await conn.execute(text("SELECT finished_at FROM tasks WHERE id = :id"), {"id": task_id})
            return r.scalar_one() is not None

    await wait_for(finished, timeout=timeout, what="the task to finish")
    return task_id


async def outcomes(engine: Any, task_id: Any) -> dict[str, dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT i.input, i.status, i.error, i.finished_at, p.attempts, p.error_code, c.text, c.title, "
                "c.language, c.no_content, c.content_type, c.structured, c.byline, c.content_hash "
                "FROM items i LEFT JOIN phases p ON p.item_id = i.id AND p.stage = 'parse' "
                "LEFT JOIN parsed_contents c ON c.id = i.parsed_content_id WHERE i.task_id = :id"
            ),
            {"id": task_id},
        )
        return {r.input: dict(r._mapping) for r in rows}


async def test_every_bad_input_ends_right_and_the_good_pages_keep_going(
    env: dict[str, Any], sites: tuple[HostileSite, HostileSite], tmp_path: Path
) -> None:
    site, trap = sites
    site.redirect_to["/go"] = trap.url("/stolen")
    site.redirect_to["/go2"] = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    site.files["odd.html"] = HOSTILE_DATA.encode("utf-8", "surrogatepass")
    expected = {  # path: (status, error code, attempts)
        "/trickle": ("failed", "FETCH_TIMEOUT", 2),
        "/huge": ("failed", "TOO_LARGE", 1),
        "/huge-declared": ("failed", "TOO_LARGE", 1),
        "/bomb": ("failed", "TOO_LARGE", 1),
        "/loop": ("failed", "TOO_MANY_REDIRECTS", 1),
        "/go": ("failed", "SSRF_BLOCKED", 1),
        "/go2": ("failed", "SSRF_BLOCKED", 1),
        "/cp1251": ("succeeded", None, 1),
        "/binary.html": ("failed", "UNSUPPORTED_CONTENT", 1),
        "/empty": ("succeeded", None, 1),
        "/flaky/a": ("succeeded", None, 2),
        "/limited/a": ("succeeded", None, 1),  # the Retry-After wait used no attempt
        "/status/404": ("failed", "HTTP_NOT_FOUND", 1),
        "/file/odd.html": ("succeeded", None, 1),
        **{f"/page/{n}": ("succeeded", None, 1) for n in range(8)},
    }
    urls = {site.url(p): p for p in expected}
    worker = start_worker(env, tmp_path / "parser.log")
    try:
        await run_task(env, [site.url(f"/page/warm-{n}") for n in range(4)], timeout=90)  # imports, pools
        me = psutil.Process(worker.pid)

        def rss() -> int:  # the parser and its extraction workers
            total = 0
            for p in (me, *me.children(recursive=True)):
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            return total

        rss0 = rss_peak = rss()

        async def sample() -> None:
            nonlocal rss_peak
            while True:
                rss_peak = max(rss_peak, rss())
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        try:
            task_id = await run_task(env, list(urls), timeout=120)
        finally:
            sampler.cancel()
    finally:
        worker.terminate()
        worker.wait(30)
    got = await outcomes(env["engine"], task_id)
    by_path = {urls[u]: o for u, o in got.items()}
    summary = {
        p: (o["status"], o["error_code"] if o["status"] == "failed" else None, o["attempts"])
        for p, o in by_path.items()
    }
    assert summary == expected

    # Errors say what is wrong; none of them is retried when it cannot help.
    assert "decompression bomb" in by_path["/bomb"]["error"]["message"]
    assert "127.0.0.1 is a loopback address" in by_path["/go"]["error"]["message"]
    assert "169.254.169.254 is the cloud metadata address" in by_path["/go2"]["error"]["message"]
    assert "loop" in by_path["/loop"]["error"]["message"]
    assert "application/octet-stream (served as text/html)" in by_path["/binary.html"]["error"]["message"]
    assert all(not by_path[p]["error"]["retryable"] for p in ("/huge", "/bomb", "/loop", "/go", "/binary.html"))
    assert sum(trap.hits.values()) == 0, f"a request reached 127.0.0.1: {dict(trap.hits)}"
    assert site.sent["/huge"] < 64 * CAP  # stopped reading long before 1 GB

    # Content: the windows-1251 page decoded, the empty page a result with no content.
    assert RUSSIAN.strip() in by_path["/cp1251"]["text"] and by_path["/cp1251"]["title"] == "Штормы"
    assert by_path["/empty"]["no_content"] is True and by_path["/empty"]["text"] == ""
    assert "forty boats" in by_path["/flaky/a"]["text"]
    odd = by_path["/file/odd.html"]
    assert odd["language"] is None and "\x00" not in odd["text"] and odd["byline"] == "Ingrid"
    assert "NUL  and a lone" in json.dumps(odd["structured"]["article"], ensure_ascii=False)

    # The good pages finished while the trickling one was still being tried.
    slow_end = by_path["/trickle"]["finished_at"]
    assert all(by_path[f"/page/{n}"]["finished_at"] < slow_end for n in range(8))
    growth = (rss_peak - rss0) / 1e6
    print(f"parser worker RSS: {rss0 / 1e6:.0f} MB after the warm-up, {rss_peak / 1e6:.0f} MB at the peak")
    assert growth < 64, f"the worker grew by {growth:.0f} MB while reading 1 GB, a bomb and the rest"
