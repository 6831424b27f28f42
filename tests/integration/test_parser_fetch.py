"""The parser's fetcher against local servers: every hop checked and pinned (DNS rebinding),
HTTP/2 over TLS with the host name kept, TLS failures, refused connections, and the hostile
bodies with the memory they cost measured.

DNS is the one outside service here that the tests replace: `Fetcher(resolver=...)` is the
resolver interface the SSRF guard calls (host, port -> addresses), answered by a local table.
"""

from __future__ import annotations

import socket
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from distill_core.errors import DistillError
from distill_parser.fetch import Fetcher
from distill_parser.settings import ParserSettings

from tests.fakes.h2_site import H2Site
from tests.fakes.hostile_site import HostileSite
from tests.security.certs import dev_ca

CAP = 1024 * 1024


def settings(**kw: object) -> ParserSettings:
    base: dict[str, object] = {"parser_allow_private_networks": True, "parser_max_bytes": CAP, "parser_host_delay": 0}
    return ParserSettings(**{**base, **kw})  # type: ignore[arg-type]


def table(answers: dict[str, list[list[str]]], calls: list[str]) -> Callable:  # type: ignore[type-arg]
    """A resolver answering each name from its list of answers in turn (the last one repeats)."""

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        seq = answers.get(host)
        if not seq:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return seq.pop(0) if len(seq) > 1 else seq[0]

    return resolve


async def fetch_error(f: Fetcher, url: str) -> DistillError:
    with pytest.raises(DistillError) as e:
        await f.fetch(url)
    return e.value


@pytest.fixture
def site() -> Iterator[HostileSite]:
    s = HostileSite()
    yield s
    s.close()


@pytest.fixture
def twins() -> Iterator[tuple[HostileSite, HostileSite]]:
    """The same port on 127.0.0.2 (the site the name should reach) and 127.0.0.1 (a trap)."""
    for _ in range(20):
        good = HostileSite("127.0.0.2")
        try:
            trap = HostileSite("127.0.0.1", port=good.port)
        except OSError:
            good.close()
            continue
        yield good, trap
        good.close()
        trap.close()
        return
    pytest.fail("no port free on both 127.0.0.1 and 127.0.0.2")


async def test_dns_rebinding_cannot_switch_the_address_between_check_and_connect(
    twins: tuple[HostileSite, HostileSite],
) -> None:
    good, trap = twins
    calls: list[str] = []
    # Allowed: 127.0.0.2 only. The name answers it once, then loopback (a rebinding DNS server).
    resolver = table({"rebind.test": [["127.0.0.2"], ["127.0.0.1"]]}, calls)
    f = Fetcher(settings(parser_allow_private_networks=False, parser_allowed_networks="127.0.0.2/32"), resolver)
    try:
        page = await f.fetch(f"http://rebind.test:{good.port}/page/first")
        assert page.status == 200 and b"Page first" in page.body
        assert calls == ["rebind.test"]  # resolved once: the connection went to the address checked
        assert good.hits["/page/first"] == 1 and good.headers["/page/first"]["host"] == f"rebind.test:{good.port}"
        # Now the name answers 127.0.0.1: refused before any connection, and every later hop too.
        e = await fetch_error(f, f"http://rebind.test:{good.port}/page/second")
        assert e.code == "SSRF_BLOCKED" and "rebind.test resolves to 127.0.0.1" in e.message
    finally:
        await f.close()
    assert sum(trap.hits.values()) == 0, f"the trap on 127.0.0.1 was reached: {dict(trap.hits)}"


async def test_every_redirect_hop_is_checked_again(twins: tuple[HostileSite, HostileSite]) -> None:
    good, trap = twins
    calls: list[str] = []
    resolver = table({"site.test": [["127.0.0.2"]], "evil.test": [["127.0.0.1"]]}, calls)
    good.redirect_to["/go"] = f"http://evil.test:{good.port}/stolen"
    good.redirect_to["/go2"] = f"http://127.0.0.1:{good.port}/stolen"
    good.redirect_to["/go3"] = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    f = Fetcher(settings(parser_allow_private_networks=False, parser_allowed_networks="127.0.0.2/32"), resolver)
    try:
        for path, says in (
            ("/go", "evil.test resolves to 127.0.0.1, which is a loopback address"),
            ("/go2", "127.0.0.1 is a loopback address"),
            ("/go3", "169.254.169.254 is the cloud metadata address"),
        ):
            e = await fetch_error(f, f"http://site.test:{good.port}{path}")
            assert (e.code, e.retryable) == ("SSRF_BLOCKED", False) and says in e.message, e
            assert good.hits[path] == 1  # the first hop was fetched: the refusal is the redirect's
    finally:
        await f.close()
    assert sum(trap.hits.values()) == 0


async def test_user_agent_accept_encoding_redirects_and_final_url(site: HostileSite) -> None:
    f = Fetcher(settings())
    try:
        page = await f.fetch(site.url("/chain/5"))
        assert page.final_url == site.url("/chain/0") and len(page.redirects) == 5
        e = await fetch_error(f, site.url("/chain/6"))
        assert e.code == "TOO_MANY_REDIRECTS" and "more than 5 redirects" in e.message
        e = await fetch_error(f, site.url("/loop-a"))
        assert e.code == "TOO_MANY_REDIRECTS" and "loop" in e.message and site.hits["/loop-a"] == 1
    finally:
        await f.close()
    h = site.headers["/chain/0"]
    assert "DistillBot" in h["user-agent"] and h["accept-encoding"] == "gzip, deflate"


async def test_statuses_refusals_and_timeouts(site: HostileSite) -> None:
    f = Fetcher(settings(parser_total_timeout=2.0, parser_read_timeout=5.0))
    try:
        codes = {}
        for path in ("/status/404", "/status/410", "/status/403", "/status/401", "/status/500", "/always-503"):
            e = await fetch_error(f, site.url(path))
            codes[path] = (e.code, e.retryable, getattr(e, "retry_after", None))
        assert codes == {
            "/status/404": ("HTTP_NOT_FOUND", False, None),
            "/status/410": ("HTTP_NOT_FOUND", False, None),
            "/status/403": ("HTTP_FORBIDDEN", False, None),
            "/status/401": ("HTTP_FORBIDDEN", False, None),
            "/status/500": ("HTTP_SERVER_ERROR", True, None),
            "/always-503": ("HTTP_SERVER_ERROR", True, 1.0),
        }
        t0 = time.monotonic()
        e = await fetch_error(f, site.url("/trickle"))  # one byte a second: each read is quick, the whole is not
        assert (e.code, e.retryable) == ("FETCH_TIMEOUT", True) and time.monotonic() - t0 < 3.5
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]  # bound, not listening: refused
            e = await fetch_error(f, f"http://127.0.0.1:{closed}/")
        assert (e.code, e.retryable) == ("CONNECT_REFUSED", True)
    finally:
        await f.close()


@pytest.mark.parametrize("path", ["/huge", "/huge-declared", "/bomb"])
async def test_large_bodies_and_bombs_cost_at_most_the_cap(site: HostileSite, path: str) -> None:
    f = Fetcher(settings())
    tracemalloc.start()
    try:
        e = await fetch_error(f, site.url(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await f.close()
    assert (e.code, e.retryable) == ("TOO_LARGE", False)
    if path == "/bomb":
        assert "decompression bomb" in e.message
    assert peak < 4 * CAP, f"{path}: {peak / 1e6:.1f} MB at the peak for a cap of {CAP / 1e6:.1f} MB"
    assert site.sent[path] < 64 * CAP  # the 1 GB was not read to its end


async def test_gzip_pages_are_read(site: HostileSite) -> None:
    f = Fetcher(settings())
    try:
        page = await f.fetch(site.url("/gzipped"))
    finally:
        await f.close()
    assert page.body.startswith(b"<!doctype html>") and b"Page gzipped" in page.body


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return dev_ca.make_all(tmp_path_factory.mktemp("pki"), hosts=["site.test"])  # type: ignore[no-any-return]


@pytest.fixture
def h2site(pki: dict[str, Path]) -> Iterator[H2Site]:
    s = H2Site(pki["server"], pki["server_key"])
    yield s
    s.close()


async def test_http2_over_tls_with_the_host_name_kept(
    h2site: H2Site, pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki["ca"]))
    calls: list[str] = []
    f = Fetcher(settings(), table({"site.test": [["127.0.0.1"]]}, calls))
    try:
        page = await f.fetch(h2site.url("/h2", host="site.test"))
    finally:
        await f.close()
    assert page.http_version == "HTTP/2" and b"came over HTTP/2" in page.body
    # Connected to the pinned address, while TLS (SNI, certificate) and :authority kept the name.
    assert h2site.requests == [("HTTP/2", "GET", "/h2", f"site.test:{h2site.port}", "site.test")]
    f1 = Fetcher(settings(parser_http2=False), table({"site.test": [["127.0.0.1"]]}, []))
    try:
        page = await f1.fetch(h2site.url("/h1", host="site.test"))
    finally:
        await f1.close()
    assert page.http_version == "HTTP/1.1" and h2site.requests[-1][0] == "HTTP/1.1"


async def test_an_untrusted_certificate_is_a_tls_error(h2site: H2Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    f = Fetcher(settings(), table({"site.test": [["127.0.0.1"]]}, []))
    try:
        e = await fetch_error(f, h2site.url("/x", host="site.test"))
        assert (e.code, e.retryable) == ("TLS_ERROR", False) and "certificate" in e.message.lower()
    finally:
        await f.close()
    assert h2site.requests == []
