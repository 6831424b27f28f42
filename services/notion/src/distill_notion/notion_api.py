"""A small client for the parts of the Notion API the export uses (httpx, one pinned Notion-Version).

Every request first takes its slot from the shared rate limiter. Answers map to
Distill's error tree:

    429 rate_limited           the limiter pauses everyone for Retry-After; waited out here
                               when short, else RateLimited(retry_after) (no attempt used)
    409 conflict_error         not applied: retried here, then retryable
    5xx, timeouts, resets      retried here when the request is safe to repeat (reads);
                               a create or append may have been applied: AmbiguousWrite
                               (retryable) and the caller re-reads before writing again
    400 validation_error ...   permanent, with Notion's message
    401 / 403 / 404            permanent (token, sharing, id)

The token goes only into the Authorization header: no message, log line or error
carries it (messages are scrubbed of it all the same).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from distill_core import tracing
from distill_core.errors import (
    DistillError,
    NotFoundError,
    PermanentError,
    PermissionDenied,
    RateLimited,
    RetryableError,
    TimeoutFailure,
    Unauthenticated,
    UpstreamError,
)
from distill_core.logging import get_logger

from distill_notion.notion_blocks import encoded

log = get_logger(__name__)

RETRYABLE_STATUS = {409, 500, 502, 503, 504, 529}


class Limiter(Protocol):
    async def acquire(self) -> float: ...

    async def pause(self, seconds: float) -> None: ...


class AmbiguousWrite(UpstreamError):
    """A write may or may not have been applied (timeout, reset, 5xx): re-read before writing again."""

    code = "NOTION_UNAVAILABLE"


@dataclass
class Answer:
    status: int
    body: dict[str, Any]


def retry_after(resp: httpx.Response, default: float = 1.0) -> float:
    """Retry-After in seconds (Notion sends an integer; an HTTP date is not expected)."""
    try:
        return max(0.0, float(resp.headers.get("retry-after", default)))
    except ValueError:
        return default


class NotionApi:
    """One token, one Notion-Version, one shared limiter."""

    def __init__(
        self,
        base_url: str,
        token: str,
        version: str,
        limiter: Limiter,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        max_wait: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not token:
            raise PermanentError(
                "the notion destination needs an integration token: set DISTILL_NOTION_TOKEN",
                code="NOTION_NOT_CONFIGURED",
            )
        self._token = token
        self.version = version
        self.limiter = limiter
        self.timeout = timeout
        self.retries = retries
        self.max_wait = max_wait
        self.requests = 0
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Notion-Version": version,
                "Content-Type": "application/json",
                "User-Agent": "distill-notion",
            },
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            transport=transport,
        )

    @property
    def data_sources(self) -> bool:
        """Does the pinned version put pages under data sources (2025-09-03 and later)?"""
        return self.version >= "2025-09-03"

    async def close(self) -> None:
        await self.http.aclose()

    def _scrub(self, s: str) -> str:
        return s.replace(self._token, "[redacted]") if self._token else s

    # --- the one request path ------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, Any] | None = None,
        write: bool = False,
        what: str = "request",
    ) -> dict[str, Any]:
        """Send one API call; `write` marks a call that must not be repeated blindly."""
        content = encoded(body) if body is not None else None
        failures = 0
        while True:
            await self.limiter.acquire()
            self.requests += 1
            try:
                async with asyncio.timeout(self.timeout + 5):
                    attrs = {"http.request.method": method, "distill.notion.operation": what}
                    with tracing.span(f"notion {what}", attrs, tracing.CLIENT) as sp:
                        resp = await self.http.request(method, path, content=content, params=params)
                        tracing.set_attributes(sp, {"http.response.status_code": resp.status_code})
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                # Never reached Notion: safe to repeat, writes included.
                err: DistillError = UpstreamError(
                    f"could not reach Notion ({type(e).__name__})", code="NOTION_UNREACHABLE"
                )
            except (httpx.TimeoutException, TimeoutError):
                err = (AmbiguousWrite if write else TimeoutFailure)(
                    f"Notion did not answer the {what} within {self.timeout:g} s"
                )
            except httpx.HTTPError as e:
                err = (AmbiguousWrite if write else UpstreamError)(
                    self._scrub(f"the {what} to Notion failed: {type(e).__name__}"), code="NOTION_UNAVAILABLE"
                )
            else:
                if resp.status_code < 300:
                    return resp.json() if resp.content else {}
                err = self._error(resp, what, write)
                if resp.status_code == 429:
                    wait = retry_after(resp)
                    await self.limiter.pause(wait)
                    log.info("notion asked us to slow down", retry_after=wait, what=what)
                    if wait <= self.max_wait:
                        continue  # the limiter now waits it out; a 429 was not applied
                    raise err
            if isinstance(err, AmbiguousWrite) or not err.retryable or failures >= self.retries:
                raise err
            failures += 1
            await asyncio.sleep(min(8.0, 0.5 * 2 ** (failures - 1)) * (0.75 + random.random() / 2))

    def _error(self, resp: httpx.Response, what: str, write: bool) -> DistillError:
        try:
            data = resp.json()
        except ValueError:
            data = {}
        status = resp.status_code
        code = str(data.get("code") or f"http_{status}")
        message = self._scrub(str(data.get("message") or resp.reason_phrase or "no message"))[:1000]
        tag = f"NOTION_{code.upper()}"
        rid = data.get("request_id")
        if status == 429:
            return RateLimited(f"Notion rate-limited the {what}: {message}", retry_after=retry_after(resp))
        if status == 409:
            return RetryableError(f"Notion reported a conflict on the {what}: {message}", code=tag, request_id=rid)
        if status >= 500:
            cls = AmbiguousWrite if write else UpstreamError
            return cls(f"Notion failed the {what} ({status} {code}): {message}", code=tag, request_id=rid)
        if status == 401:
            return Unauthenticated(
                "Notion rejected the integration token (401 unauthorized): check DISTILL_NOTION_TOKEN",
                code=tag,
                request_id=rid,
            )
        if status == 403:
            return PermissionDenied(
                f"Notion refused the {what} (403 {code}): {message}. Share the database with the integration "
                "and give it read, insert and update content capabilities",
                code=tag,
                request_id=rid,
            )
        if status == 404:
            return NotFoundError(
                f"Notion found nothing for the {what} (404 {code}): {message}. Check the id and that the "
                "database is shared with the integration",
                code=tag,
                request_id=rid,
            )
        return PermanentError(f"Notion rejected the {what} ({status} {code}): {message}", code=tag, request_id=rid)

    # --- endpoints ---------------------------------------------------------------------------

    async def retrieve_database(self, database_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/v1/databases/{database_id}", what="database lookup")

    async def retrieve_data_source(self, data_source_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/v1/data_sources/{data_source_id}", what="data source lookup")

    async def query(self, kind: str, target_id: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/v1/data_sources/{target_id}/query" if kind == "data_source" else f"/v1/databases/{target_id}/query"
        return await self.request("POST", path, body, what="query")

    async def create_page(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("POST", "/v1/pages", body, write=True, what="page creation")

    async def update_page(self, page_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("PATCH", f"/v1/pages/{page_id}", body, what="page update")

    async def append_children(self, block_id: str, children: list[dict[str, Any]]) -> dict[str, Any]:
        return await self.request(
            "PATCH", f"/v1/blocks/{block_id}/children", {"children": children}, write=True, what="block append"
        )

    async def count_children(self, block_id: str) -> int:
        """Top-level children of a block or page (paged 100 at a time)."""
        n = 0
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"page_size": 100}
            if cursor:
                params["start_cursor"] = cursor
            page = await self.request("GET", f"/v1/blocks/{block_id}/children", params=params, what="block listing")
            n += len(page.get("results") or [])
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return n
