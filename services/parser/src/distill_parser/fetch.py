"""Fetching a URL safely: every hop checked and pinned, polite, bounded in time and size.

One fetch: for each hop (at most `parser_max_redirects` redirects) the URL is checked
(http/https only), its host resolved once and every address checked by the SSRF guard;
the request waits for a slot of that host (`politeness.py`), connects to a checked
address (`pinning.py`), and reads the body within the byte cap (`body.py`). Network time
(DNS, connect, every hop's transfer) is bounded by `parser_total_timeout`; time spent
waiting for a host slot is not network time and does not count. Failures become the
classified errors of `fetch_errors.py`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx
from distill_core.errors import PermanentError, TimeoutFailure
from distill_core.netguard import Resolver, is_public

from distill_parser import fetch_errors
from distill_parser.body import ACCEPT_ENCODING, read_capped
from distill_parser.fetch_errors import http_error, retry_after_seconds, transport_error
from distill_parser.pinning import PinnedTransport, pinned, proxy_mounts
from distill_parser.politeness import HostGate
from distill_parser.settings import ParserSettings
from distill_parser.ssrf import Guard, Policy, parse_networks

__all__ = ["REDIRECTS", "Fetched", "Fetcher", "http_error", "retry_after_seconds"]

REDIRECTS = (301, 302, 303, 307, 308)
ACCEPT = "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9,text/markdown;q=0.9,*/*;q=0.5"


@dataclass
class Fetched:
    url: str
    final_url: str
    status: int
    content_type: str
    charset: str | None
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0
    redirects: list[str] = field(default_factory=list)
    http_version: str = ""


class Fetcher:
    def __init__(self, settings: ParserSettings, resolver: Resolver | None = None) -> None:
        self.s = settings
        policy = Policy(settings.parser_allow_private_networks, parse_networks(settings.parser_allowed_networks))
        self.guard = Guard(policy, resolver)
        self.gate = HostGate(settings.parser_per_host_concurrency, settings.parser_host_delay)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        ssl_context = httpx.create_ssl_context(trust_env=True)
        self.transport = PinnedTransport(
            self.guard, http2=settings.parser_http2, limits=limits, ssl_context=ssl_context
        )
        self.client = httpx.AsyncClient(
            transport=self.transport,
            mounts=proxy_mounts(http2=settings.parser_http2, limits=limits, ssl_context=ssl_context),
            follow_redirects=False,
            timeout=httpx.Timeout(
                connect=settings.parser_connect_timeout,
                read=settings.parser_read_timeout,
                write=settings.parser_read_timeout,
                pool=settings.parser_total_timeout,
            ),
            headers={"User-Agent": settings.parser_user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def fetch(self, url: str) -> Fetched:
        t0 = time.monotonic()
        budget = self.s.parser_total_timeout
        current = url
        seen: list[str] = []
        for _hop in range(self.s.parser_max_redirects + 1):
            if current in seen:
                raise PermanentError(
                    fetch_errors.redirect_story([*seen, current], self.s.parser_max_redirects),
                    code="TOO_MANY_REDIRECTS",
                    url=url,
                )
            seen.append(current)
            target = fetch_errors.parse_target(current)
            t = time.monotonic()
            addresses = await self._within(budget, self.guard.vet(target.host, target.port), url)
            budget -= time.monotonic() - t
            polite = all(is_public(a) for a in addresses)
            async with self.gate.slot(target.host, polite):
                t = time.monotonic()
                with pinned(target.host, addresses):
                    result = await self._within(budget, self._hop(current, url), url)
                budget -= time.monotonic() - t
            if isinstance(result, Fetched):
                result.elapsed = time.monotonic() - t0
                result.redirects = seen[1:]
                return result
            current = result
        raise PermanentError(
            fetch_errors.redirect_story(seen, self.s.parser_max_redirects), code="TOO_MANY_REDIRECTS", url=url
        )

    async def _within(self, budget: float, work, url: str):  # type: ignore[no-untyped-def]
        """Await `work` within what is left of the fetch's network time."""
        try:
            async with asyncio.timeout(max(budget, 0.0)):
                return await work
        except TimeoutError:
            raise TimeoutFailure(
                f"fetching took longer than {self.s.parser_total_timeout:g} s", code="FETCH_TIMEOUT", url=url
            ) from None

    async def _hop(self, current: str, url: str) -> Fetched | str:
        """One request: the Fetched page, or the URL a redirect points to."""
        try:
            async with self.client.stream("GET", current) as resp:
                if resp.status_code in REDIRECTS:
                    location = resp.headers.get("location", "").strip()
                    if not location:
                        raise PermanentError(
                            f"HTTP {resp.status_code} redirect without a Location header",
                            code="BAD_REDIRECT",
                            url=current,
                        )
                    return urljoin(current, location)
                if resp.status_code >= 400:
                    raise http_error(resp.status_code, current, resp.headers)
                body = await read_capped(
                    resp.aiter_raw(),
                    self.s.parser_max_bytes,
                    content_encoding=resp.headers.get("content-encoding"),
                    content_length=resp.headers.get("content-length"),
                )
                ctype = resp.headers.get("content-type", "")
                return Fetched(
                    url=url,
                    final_url=str(resp.url),
                    status=resp.status_code,
                    content_type=ctype.split(";")[0].strip().lower(),
                    charset=resp.charset_encoding,
                    body=body,
                    headers=dict(resp.headers),
                    http_version=resp.http_version,
                )
        except httpx.HTTPError as e:
            raise transport_error(e, current) from None
