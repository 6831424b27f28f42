"""What went wrong with a fetch, as the stable error codes of docs/parser.md (pure functions)."""

from __future__ import annotations

import re
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
from distill_core.errors import (
    ConnectionFailure,
    DistillError,
    PermanentError,
    RateLimited,
    RetryableError,
    TimeoutFailure,
    UpstreamError,
)
from distill_core.netguard import literal_address

MAX_RETRY_AFTER = 3600.0
_HOST = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})$")


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # as the connection pool sees it: IDNA-encoded, IPv6 without brackets
    port: int


def parse_target(url: str) -> Target:
    """The scheme, host and port a URL connects to, or the error saying what is wrong with it."""
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as e:
        # httpx refuses some numeric hosts the system resolver accepts (0177.0.0.1): the guard
        # must see those addresses, so that a refused one is SSRF_BLOCKED like any other.
        literal = _numeric_target(url)
        if literal is not None:
            return literal
        raise PermanentError(f"the URL is not valid: {e}", code="INVALID_URL", url=url) from None
    if u.scheme not in ("http", "https"):
        raise PermanentError(
            f"the URL's scheme {u.scheme or '(none)'!r} is not fetched (only http and https)",
            code="UNSUPPORTED_SCHEME",
            url=url,
        )
    host = u.raw_host.decode("ascii")
    if not host:
        raise PermanentError("the URL has no host", code="INVALID_URL", url=url)
    if not _HOST.match(host) and literal_address(host) is None:
        raise PermanentError(f"the URL's host {host!r} is not a valid host name", code="INVALID_URL", url=url)
    return Target(u.scheme, host, u.port or (443 if u.scheme == "https" else 80))


def _numeric_target(url: str) -> Target | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or literal_address(host) is None:
        return None
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80))


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
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if secs != secs:  # NaN
        return None
    return max(0.0, min(secs, MAX_RETRY_AFTER))


def http_error(status: int, url: str, headers: httpx.Headers) -> DistillError:
    """The classified error for a non-2xx final status."""
    ra = retry_after_seconds(headers.get("retry-after"))
    d = {"http_status": status, "url": url}
    if status in (404, 410):
        gone = "is gone" if status == 410 else "does not exist"
        return PermanentError(f"the page {gone} (HTTP {status})", code="HTTP_NOT_FOUND", **d)
    if status in (401, 403, 407, 451):
        return PermanentError(f"access to the page is denied (HTTP {status})", code="HTTP_FORBIDDEN", **d)
    if status == 429:
        return RateLimited("the site asked us to slow down (HTTP 429)", retry_after=ra, code="HTTP_RATE_LIMITED", **d)
    if status == 408:
        return RetryableError("the site timed out the request (HTTP 408)", retry_after=ra, code="HTTP_TIMEOUT", **d)
    if status >= 500:
        # Retry-After counts on 503 (the site said when it is back); other 5xx use the back-off.
        wait = ra if status == 503 else None
        return UpstreamError(f"the site failed (HTTP {status})", retry_after=wait, code="HTTP_SERVER_ERROR", **d)
    return PermanentError(f"the site refused the request (HTTP {status})", code="HTTP_CLIENT_ERROR", **d)


def _causes(e: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and cur not in out and len(out) < 10:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def transport_error(e: httpx.HTTPError, url: str) -> DistillError:
    """The classified error for an httpx failure (no response, or a broken one)."""
    chain = _causes(e)
    detail = str(e) or type(e).__name__
    if isinstance(e, httpx.ConnectTimeout):
        return TimeoutFailure("the site did not accept a connection in time", code="CONNECT_TIMEOUT", url=url)
    if isinstance(e, httpx.TimeoutException):
        return TimeoutFailure("the site did not answer in time", code="FETCH_TIMEOUT", url=url)
    if any(isinstance(c, ssl.SSLError | ssl.CertificateError) for c in chain) or "SSL" in detail:
        return PermanentError(f"TLS failed: {detail[:300]}", code="TLS_ERROR", url=url)
    if isinstance(e, httpx.ConnectError):
        if any(isinstance(c, ConnectionRefusedError) for c in chain) or "refused" in detail.lower():
            return ConnectionFailure("the site refused the connection", code="CONNECT_REFUSED", url=url)
        return ConnectionFailure(f"could not connect: {detail[:300]}", code="CONNECT_ERROR", url=url)
    if isinstance(e, httpx.DecodingError):
        return PermanentError(f"the response could not be decoded: {detail[:300]}", code="BAD_ENCODING", url=url)
    if isinstance(e, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return PermanentError(f"the URL is not valid: {detail[:300]}", code="INVALID_URL", url=url)
    if isinstance(e, httpx.TransportError):
        return ConnectionFailure(f"the connection failed: {detail[:300]}", code="CONNECT_ERROR", url=url)
    return ConnectionFailure(f"the request failed: {detail[:300]}", code="CONNECT_ERROR", url=url)


def redirect_story(seen: list[str], limit: int) -> str:
    """The TOO_MANY_REDIRECTS message: a loop is named as one."""
    if len(set(seen)) < len(seen):
        first = next(u for u in seen if seen.count(u) > 1)
        return f"the redirects go round in a loop (back to {first})"
    return f"more than {limit} redirects (last: {seen[-1]})"
