"""One HTTP POST to a user-supplied URL: SSRF-checked, pinned to the checked address, bounded in
time, and its result classified into an Outcome. Messages never include the URL's path or
query (webhook URLs often carry tokens) nor any header we sent."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from distill_core import netguard
from distill_core.errors import DistillError


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    ok: bool
    status: int = 0
    error: str = ""
    retry: bool = False
    retry_after: float | None = None
    rate_limited: bool = False
    # A push subscription the push service says is gone (404/410): delete it.
    gone: bool = False
    seconds: float = 0.0


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date), at most a day."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), 86400.0)
    try:
        at = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, min(at - (now if now is not None else time.time()), 86400.0))


def classify(status: int, headers: httpx.Headers, *, push: bool) -> Outcome:
    """The outcome of a response status (2xx is success)."""
    ra = retry_after(headers.get("retry-after"))
    if 200 <= status < 300:
        return Outcome(True, status)
    if push and status in (404, 410):
        return Outcome(False, status, f"the push subscription is gone (HTTP {status})", gone=True)
    if status == 429:
        return Outcome(False, status, "asked to slow down (HTTP 429)", retry=True, retry_after=ra, rate_limited=True)
    if status in (408, 425) or status >= 500:
        return Outcome(False, status, f"the receiver failed (HTTP {status})", retry=True, retry_after=ra)
    if 300 <= status < 400:
        return Outcome(False, status, f"redirects are not followed (HTTP {status}); register the final URL")
    if push and status == 413:
        return Outcome(False, status, "the push service refused the payload as too large (HTTP 413)")
    if push and status in (401, 403):
        return Outcome(False, status, f"the push service refused our VAPID credentials (HTTP {status})")
    return Outcome(False, status, f"the receiver refused the notification (HTTP {status})")


def pinned_url(target: netguard.Target) -> str:
    """The URL with its host replaced by the checked address (the Host header and TLS name stay)."""
    parts = urlsplit(target.url)
    addr = f"[{target.address}]" if ":" in target.address else target.address
    return urlunsplit((parts.scheme, f"{addr}:{target.port}", parts.path or "/", parts.query, ""))


class Poster:
    """POSTs with one shared connection pool; never follows redirects."""

    def __init__(self, *, timeout: float, connect_timeout: float, allow_private: bool, user_agent: str) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self.client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
            headers={"User-Agent": user_agent},
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=64),
            trust_env=False,
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def post(self, url: str, body: bytes, headers: dict[str, str], *, push: bool) -> Outcome:
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                target = netguard.check_url(url, allow_private=self.allow_private)
                target = await netguard.resolve(target, self.allow_private)
                host = target.origin.split("://", 1)[1]
                resp = await self.client.post(
                    pinned_url(target),
                    content=body,
                    headers={**headers, "Host": host},
                    extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
                )
                await resp.aclose()
        except TimeoutError:
            return Outcome(False, error=f"no answer within {self.timeout:g} s", retry=True, seconds=self.timeout)
        except DistillError as e:
            return Outcome(False, error=e.message, retry=e.retryable, seconds=time.monotonic() - t0)
        except httpx.HTTPError as e:
            return Outcome(False, error=_http_error(e), retry=True, seconds=time.monotonic() - t0)
        return replace(classify(resp.status_code, resp.headers, push=push), seconds=time.monotonic() - t0)


def _http_error(e: httpx.HTTPError) -> str:
    """A message about a transport failure that does not repeat the request URL."""
    if isinstance(e, httpx.TimeoutException):
        return "the receiver did not answer in time"
    if isinstance(e, httpx.ConnectError):
        detail = str(e)
        if "SSL" in detail or "certificate" in detail.lower():
            return f"TLS failed: {detail[:200]}"
        return "could not connect"
    return f"the connection failed ({type(e).__name__})"
