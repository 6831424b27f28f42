"""The parser's lean paths: what each of its processes imports, the extraction workers'
pipe (pages behind a timed-out one, retiring a worker), and the connection pool that checks
idle connections only when it reuses them."""

from __future__ import annotations

import asyncio
import http.server
import json
import random
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import psutil
import pytest
from distill_core.errors import DistillError
from distill_parser import extract_pool
from distill_parser.extract import HANDLERS
from distill_parser.extract_pool import ExtractPool
from distill_parser.pinning import LeanPool
from distill_parser.sniff import _BINARY_BYTES, READABLE, looks_binary

from tests.fakes.hostile_site import article
from tests.integration.test_parser_pool import big_page, workers

pytestmark = pytest.mark.timeout(120)

HEAVY = ("lxml", "trafilatura", "justext", "PIL", "onnxruntime", "rapidocr_onnxruntime", "cv2", "pypdf", "numpy")


def imported_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {m.split(".")[0] for m in json.loads(out.stdout.strip().splitlines()[-1])}


def test_the_main_process_loads_no_extractor_and_no_ocr_engine() -> None:
    mods = imported_after(
        "import distill_parser.__main__\n"
        "from distill_parser.settings import ParserSettings\n"
        "from distill_parser.ocr_extract import Ocr\n"
        "from distill_parser.extract_pool import is_document\n"
        "Ocr(ParserSettings(service_name='parser'))  # the default engine, checked\n"
        "assert is_document(b'<html><body>x</body></html>', 'text/html', 'https://x/')"
    )
    assert not mods & set(HEAVY)


def test_the_worker_loads_the_extractors_and_nothing_of_the_service() -> None:
    mods = imported_after(
        "from distill_parser.extract_worker import WARM_UP, extract\nextract(WARM_UP, 'text/html', 'https://warm.up/')"
    )
    assert {"lxml", "trafilatura"} <= mods
    assert not mods & {"httpx", "httpcore", "sqlalchemy", "asyncpg", "nats", "PIL", "onnxruntime", "pypdf"}


def test_sniffing_knows_every_type_extract_reads() -> None:
    assert set(HANDLERS) == READABLE


def test_looks_binary_counts_as_before() -> None:
    rng = random.Random(7)

    def before(body: bytes) -> bool:
        sample = body[:4096]
        if not sample or sample.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
            return False
        return sum(1 for b in sample if b in _BINARY_BYTES) > len(sample) / 100

    bodies = [b"", b"\x00", b"plain text", article("x"), b"\xef\xbb\xbf\x00\x00"]
    for _ in range(300):
        text = bytes(rng.choice(b"abc def\n") for _ in range(rng.randint(1, 6000)))
        cut = rng.randint(0, len(text))
        bodies.append(text[:cut] + bytes(rng.randint(0, 31) for _ in range(rng.randint(0, 120))) + text[cut:])
    for body in bodies:
        assert looks_binary(body) == before(body), body[:40]


async def test_a_page_waiting_behind_a_timed_out_one_is_retried_not_failed() -> None:
    pool = ExtractPool(1, timeout=0.5)
    try:
        await pool.start()
        slow = asyncio.ensure_future(pool.extract(big_page(), "text/html", "https://x.example/big", None))
        await asyncio.sleep(0)
        behind = asyncio.ensure_future(pool.extract(article("behind"), "text/html", "https://x.example/b", None))
        with pytest.raises(DistillError) as e:
            await slow
        assert (e.value.code, e.value.retryable) == ("EXTRACT_TIMEOUT", True)
        with pytest.raises(DistillError) as e:
            await behind
        assert (e.value.code, e.value.retryable) == ("EXTRACT_CRASHED", True)
        got = await pool.extract(article("after"), "text/html", "https://x.example/a", None)
        assert "Page after" in got.text
    finally:
        await pool.close()


async def test_a_worker_is_retired_after_its_pages_and_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract_pool, "MAX_PAGES", 3)
    pool = ExtractPool(1, timeout=60)
    try:
        await pool.start()
        first = {p.pid for p in workers()}
        pages = [article(f"n{i}") for i in range(10)]
        got = await asyncio.gather(
            *(pool.extract(p, "text/html", f"https://x.example/{i}", None) for i, p in enumerate(pages))
        )
        assert [f"Page n{i}" in g.text for i, g in enumerate(got)] == [True] * 10
        await asyncio.sleep(0.5)
        now = workers()
        assert len(now) == 1 and now[0].pid not in first  # the old ones exited, one took over
        # nothing else of the pool's (no multiprocessing resource tracker); the session's
        # servers are children of this process too
        assert not [p for p in psutil.Process().children() if "multiprocessing" in " ".join(p.cmdline())]
    finally:
        await pool.close()
    assert workers() == []


class _Pages(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ports: list[int] = []

    def do_GET(self) -> None:
        self.ports.append(self.client_address[1])
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/then-close":  # keep-alive promised, then the server hangs up
            self.wfile.flush()
            self.close_connection = True

    def log_message(self, *a: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Pages.ports = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


async def test_the_pool_reuses_connections_and_never_one_the_server_closed(server: str) -> None:
    pool = LeanPool(max_connections=20, max_keepalive_connections=20)
    transport = httpx.AsyncHTTPTransport()
    transport._pool = pool
    async with httpx.AsyncClient(transport=transport) as client:
        for _ in range(5):  # 8 at once, 5 times: at most 8 connections
            got = await asyncio.gather(*(client.get(f"{server}/p") for _ in range(8)))
            assert {r.status_code for r in got} == {200}
        assert len(set(_Pages.ports)) <= 8 and len(_Pages.ports) == 40
        for _ in range(3):
            assert (await client.get(f"{server}/then-close")).status_code == 200
            await asyncio.sleep(0.05)  # the server has hung up on the idle connection
        assert (await client.get(f"{server}/p")).status_code == 200
        pool.SWEEP = 0.0  # every change sweeps: closed idle connections leave the pool
        await client.get(f"{server}/p")
        assert all(not c.is_closed() for c in pool.connections)


async def test_a_full_pool_makes_requests_wait_and_closes_idle_ones_for_other_hosts(server: str) -> None:
    pool = LeanPool(max_connections=2, max_keepalive_connections=2)
    transport = httpx.AsyncHTTPTransport()
    transport._pool = pool
    other = server.replace("127.0.0.1", "localhost")  # another origin, the same server
    async with httpx.AsyncClient(transport=transport) as client:
        got = await asyncio.gather(*(client.get(f"{server}/p") for _ in range(6)))
        assert {r.status_code for r in got} == {200} and len(set(_Pages.ports)) <= 2
        assert (await client.get(f"{other}/p")).status_code == 200  # an idle one closed to make room
        assert len(pool.connections) <= 2
