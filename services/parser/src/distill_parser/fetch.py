"""Fetching a URL safely: timeouts, a byte cap, checked redirects, classified errors."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx
from distill_core.errors import (
    ConnectionFailure,
    PermanentError,
    RateLimited,
    RetryableError,
    TimeoutFailure,
    UpstreamError,
)

from distill_parser.settings import ParserSettings
from distill_parser.ssrf import check_address

REDIRECTS = (301, 302, 303, 307, 308)


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


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), capped at one hour."""
    if not value:
        return None
    v = value.strip()
    try:
        secs = float(v)
    except ValueError:
        try:
            secs = parsedate_to_datetime(v).timestamp() - (now if now is not None else time.time())
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, min(secs, 3600.0))


def http_error(status: int, url: str, headers: httpx.Headers) -> Exception:
    """The classified error for a non-2xx final status."""
    ra = retry_after_seconds(headers.get("retry-after"))
    d = {"http_status": status, "url": url}
    if status in (404, 410):
        return PermanentError(f"the page does not exist (HTTP {status})", code="HTTP_NOT_FOUND", **d)
    if status in (401, 403, 407, 451):
        return PermanentError(f"access to the page is denied (HTTP {status})", code="HTTP_FORBIDDEN", **d)
    if status == 429:
        return RateLimited("the site asked us to slow down (HTTP 429)", retry_after=ra, code="HTTP_RATE_LIMITED", **d)
    if status == 408:
        return RetryableError("the site timed out the request (HTTP 408)", retry_after=ra, code="HTTP_TIMEOUT", **d)
    if status >= 500:
        return UpstreamError(f"the site failed (HTTP {status})", retry_after=ra, code="HTTP_SERVER_ERROR", **d)
    return PermanentError(f"the site refused the request (HTTP {status})", code="HTTP_CLIENT_ERROR", **d)


class Fetcher:
    def __init__(self, settings: ParserSettings) -> None:
        self.s = settings
        self.client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(
                connect=settings.parser_connect_timeout,
                read=settings.parser_read_timeout,
                write=settings.parser_read_timeout,
                pool=settings.parser_total_timeout,
            ),
            headers={
                "User-Agent": settings.parser_user_agent,
                "Accept": "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9,*/*;q=0.5",
                "Accept-Encoding": "gzip, deflate",
            },
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def close(self) -> None:
        await self.client.aclose()

    async def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise PermanentError(f"scheme {parts.scheme!r} is not allowed", code="UNSUPPORTED_SCHEME", url=url)
        host = parts.hostname or ""
        try:
            ips = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 0, type=socket.SOCK_STREAM)
            except socket.gaierror as e:
                if e.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
                    raise PermanentError(
                        f"the host {host} does not exist (DNS)", code="DNS_NOT_FOUND", host=host
                    ) from None
                raise ConnectionFailure(f"DNS lookup of {host} failed: {e}", code="DNS_ERROR", host=host) from None
            ips = [ipaddress.ip_address(i[4][0]) for i in infos]
        for ip in ips:
            check_address(ip, host, self.s.parser_allow_private_networks)

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        host = urlsplit(url).hostname or ""
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.s.parser_per_host_concurrency)
        return sem

    async def fetch(self, url: str) -> Fetched:
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(self.s.parser_total_timeout):
                return await self._fetch(url, t0)
        except TimeoutError:
            raise TimeoutFailure(
                f"fetching took longer than {self.s.parser_total_timeout:g} s", code="FETCH_TIMEOUT", url=url
            ) from None

    async def _fetch(self, url: str, t0: float) -> Fetched:
        current = url
        for _hop in range(self.s.parser_max_redirects + 1):
            await self._check_host(current)
            async with self._host_slot(current):
                try:
                    async with self.client.stream("GET", current) as resp:
                        if resp.status_code in REDIRECTS and resp.headers.get("location"):
                            current = urljoin(current, resp.headers["location"])
                            continue
                        if resp.status_code >= 400:
                            raise http_error(resp.status_code, current, resp.headers)
                        body = await self._read_capped(resp, current)
                        ctype = resp.headers.get("content-type", "")
                        return Fetched(
                            url=url,
                            final_url=str(resp.url),
                            status=resp.status_code,
                            content_type=ctype.split(";")[0].strip().lower(),
                            charset=resp.charset_encoding,
                            body=body,
                            headers=dict(resp.headers),
                            elapsed=time.monotonic() - t0,
                        )
                except httpx.TimeoutException:
                    raise TimeoutFailure("the site did not answer in time", code="FETCH_TIMEOUT", url=current) from None
                except httpx.ConnectError as e:
                    msg = str(e) or type(e).__name__
                    if "SSL" in msg or "certificate" in msg.lower():
                        raise PermanentError(f"TLS failed: {msg}", code="TLS_ERROR", url=current) from None
                    raise ConnectionFailure(f"could not connect: {msg}", code="CONNECT_ERROR", url=current) from None
                except httpx.DecodingError as e:
                    raise PermanentError(f"the response could not be decoded: {e}", code="BAD_ENCODING") from None
                except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
                    raise ConnectionFailure(f"the connection failed: {e}", code="CONNECT_ERROR", url=current) from None
        raise PermanentError(f"more than {self.s.parser_max_redirects} redirects", code="TOO_MANY_REDIRECTS", url=url)

    async def _read_capped(self, resp: httpx.Response, url: str) -> bytes:
        cap = self.s.parser_max_bytes
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise PermanentError(f"the page is {int(declared)} bytes; the limit is {cap}", code="TOO_LARGE", url=url)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():  # decompressed: a gzip bomb hits the cap too
            size += len(chunk)
            if size > cap:
                raise PermanentError(f"the page is larger than the limit of {cap} bytes", code="TOO_LARGE", url=url)
            chunks.append(chunk)
        return b"".join(chunks)
