"""The `openai` provider: any OpenAI-compatible chat completions endpoint.

OpenAI, vLLM, Ollama, llama.cpp's server, LM Studio...: POST {base_url}/chat/completions
with stream off and the answer requested as JSON (response_format json_object, or
json_schema, or prompt-only). Long text is map-reduced: each chunk is summarised, then
the partial results are combined (in a tree when they are many). Every answer is parsed
and validated; a malformed one gets one repair request, then the item fails with
AI_BAD_OUTPUT. Requests wait for the endpoint's shared rate limiter first.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from distill_core import tracing
from distill_core.ai_models import ModelConfig
from distill_core.errors import (
    ConnectionFailure,
    DistillError,
    PermanentError,
    RateLimited,
    TimeoutFailure,
    UpstreamError,
)
from distill_core.logging import get_logger

from distill_ai import outputs, prompts
from distill_ai.chunking import chunk_text, estimate_tokens, truncate_tokens
from distill_ai.errors import AiBadOutput
from distill_ai.jsonfix import BadJson, parse_object
from distill_ai.providers.base import Progress, Provider, no_progress
from distill_ai.ratelimit import RateLimiter, shared
from distill_ai.results import Analysis, Document, Usage, Want

log = get_logger(__name__)
T = TypeVar("T")

CACHE_SIZE = 512
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def retry_after_seconds(headers: httpx.Headers, now: float | None = None) -> float | None:
    """The wait a 429/503 asks for: retry-after-ms, Retry-After (seconds or HTTP date), x-ratelimit-reset-*."""
    if v := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(v) / 1000)
        except ValueError:
            pass
    if v := headers.get("retry-after"):
        try:
            return max(0.0, float(v))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(v).timestamp()
                return max(0.0, when - (now if now is not None else time.time()))
            except (TypeError, ValueError, IndexError, OverflowError):
                pass
    waits = []
    for h in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):  # OpenAI: "1s", "6m0s", "20ms"
        if v := headers.get(h):
            parts = _DURATION.findall(v)
            if parts:
                unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
                waits.append(sum(float(n) * unit[u] for n, u in parts))
    return max(waits) if waits else None


def _error_message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        err = body.get("error") if isinstance(body, dict) else None
        msg = err.get("message") if isinstance(err, dict) else err if isinstance(err, str) else None
        msg = (
            msg
            or (body.get("message") if isinstance(body, dict) else None)
            or (body.get("detail") if isinstance(body, dict) else None)
        )
        if msg:
            return " ".join(str(msg).split())[:300]
    except ValueError:
        pass
    return " ".join(resp.text.split())[:200] or resp.reason_phrase


def _error_code(resp: httpx.Response) -> str:
    try:
        err = resp.json().get("error")
        return str(err.get("code") or err.get("type") or "") if isinstance(err, dict) else ""
    except (ValueError, AttributeError):
        return ""


class OpenAIProvider(Provider):
    kind = "openai"

    def __init__(
        self,
        name: str,
        cfg: ModelConfig,
        *,
        limiter: RateLimiter | None = None,
        max_rate_wait: float = 30.0,
        map_concurrency: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.cfg = cfg
        self.model = cfg.model or "default"
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        self.limiter = limiter or shared(cfg.base_url, self.model, cfg.rpm, cfg.tpm)
        self.max_rate_wait = max_rate_wait
        self.map_concurrency = map_concurrency
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._cache: OrderedDict[str, Analysis] = OrderedDict()
        #: The model name the endpoint reports serving (may differ from the one asked for).
        self.served_model: str | None = None

    # --- life cycle ----------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if key := self.cfg.key():
                headers["Authorization"] = f"Bearer {key}"
            self._client = httpx.AsyncClient(
                headers=headers,
                timeout=httpx.Timeout(self.cfg.timeout, connect=min(10.0, self.cfg.timeout)),
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
                transport=self._transport,
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- one request -----------------------------------------------------------------------

    def _body(self, messages: prompts.Messages, schema_name: str, schema: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.cfg.temperature,
            self.cfg.token_param: self.cfg.max_output_tokens,
            "stream": False,
        }
        if self.cfg.response_format == "json_object":
            body["response_format"] = {"type": "json_object"}
        elif self.cfg.response_format == "json_object_schema":  # llama-cpp-python, Anyscale: grammar from schema
            body["response_format"] = {"type": "json_object", "schema": schema}
        elif self.cfg.response_format == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": False},
            }
        return body

    async def chat(
        self,
        messages: prompts.Messages,
        usage: Usage,
        *,
        schema_name: str = "answer",
        schema: dict[str, Any] | None = None,
    ) -> tuple[str, str]:
        """One chat completion: (content, finish_reason). Errors as distill_core error types."""
        body = self._body(messages, schema_name, schema or {"type": "object"})
        estimate = sum(estimate_tokens(m["content"]) + 4 for m in messages) + self.cfg.max_output_tokens
        await self.limiter.acquire(estimate, max_wait=self.max_rate_wait)
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(self.cfg.timeout):  # httpx bounds each read, not the whole answer
                with tracing.span(f"chat {self.cfg.model}", self._span_attributes(), tracing.CLIENT) as sp:
                    resp = await self._http().post(self.url, content=json.dumps(body, ensure_ascii=False))
                    tracing.set_attributes(sp, {"http.response.status_code": resp.status_code})
        except (TimeoutError, httpx.TimeoutException):
            usage.add_call(0, 0, (time.monotonic() - t0) * 1000, estimated=True)
            raise TimeoutFailure(
                f"model {self.name!r} did not answer within {self.cfg.timeout:g} s", code="AI_TIMEOUT"
            ) from None
        except httpx.TransportError as e:
            raise ConnectionFailure(f"model {self.name!r} at {self.cfg.base_url} could not be reached: {e}") from None
        latency = (time.monotonic() - t0) * 1000
        if resp.status_code != 200:
            usage.add_call(0, 0, latency, estimated=True)
            raise self._http_error(resp)
        try:
            data = resp.json()
            choice = data["choices"][0]
            content = choice.get("message", {}).get("content")
            finish = str(choice.get("finish_reason") or "")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            usage.add_call(0, 0, latency, estimated=True)
            raise UpstreamError(
                f"model {self.name!r} answered 200 without a chat completion: {resp.text[:120]!r}",
                code="AI_UPSTREAM_ERROR",
            ) from None
        u = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        pt, ct = u.get("prompt_tokens"), u.get("completion_tokens")
        if isinstance(pt, int) and isinstance(ct, int):
            usage.add_call(pt, ct, latency, estimated=False)
            self.limiter.settle(estimate, pt + ct)
        else:
            est_pt = estimate - self.cfg.max_output_tokens
            usage.add_call(est_pt, estimate_tokens(content or ""), latency, estimated=True)
        if isinstance(data.get("model"), str) and data["model"]:
            self.served_model = data["model"]
        return (content if isinstance(content, str) else ""), finish

    def _span_attributes(self) -> dict[str, Any]:
        """OpenTelemetry's GenAI attributes of one chat completion (no prompt, no key)."""
        return {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": self.cfg.model}

    def _http_error(self, resp: httpx.Response) -> DistillError:
        status = resp.status_code
        msg = _error_message(resp)
        code = _error_code(resp)
        where = f"model {self.name!r} ({self.cfg.base_url})"
        if status == 429:
            if code == "insufficient_quota":
                return PermanentError(f"{where}: the account has no quota left (429): {msg}", code="AI_QUOTA_EXCEEDED")
            wait = retry_after_seconds(resp.headers)
            self.limiter.pause(wait if wait is not None else 1.0)
            return RateLimited(f"{where} is rate limiting us (429): {msg}", retry_after=wait, code="AI_RATE_LIMITED")
        if status in (408, 504):
            return TimeoutFailure(f"{where} timed out ({status}): {msg}", code="AI_TIMEOUT")
        if status >= 500 or status in (409, 425):
            wait = retry_after_seconds(resp.headers) if status == 503 else None
            return UpstreamError(f"{where} failed ({status}): {msg}", retry_after=wait, code="AI_UPSTREAM_ERROR")
        if status in (401, 403):
            what = "refused the API key" if status == 401 else "does not allow this request"
            return PermanentError(f"{where} {what} ({status}): {msg}", code="AI_AUTH_FAILED")
        if status == 404:
            return PermanentError(
                f"{where}: no such model or endpoint (404): {msg}; check the base URL (it ends in /v1) and the model",
                code="AI_MODEL_NOT_FOUND",
            )
        return PermanentError(f"{where} rejected the request ({status}): {msg}", code="AI_BAD_REQUEST")

    async def _json_call(
        self,
        messages: prompts.Messages,
        usage: Usage,
        kind: str,
        schema: dict[str, Any],
        check: Callable[[dict[str, Any]], T],
    ) -> T:
        """A JSON answer checked by `check`; one repair request if it fails, then AI_BAD_OUTPUT."""
        content, finish = await self.chat(messages, usage, schema_name=kind, schema=schema)
        try:
            return check(parse_object(content))
        except (BadJson, outputs.BadOutput) as e:
            problem = str(e) + (
                " (the answer was cut off by the token limit: be shorter)" if finish == "length" else ""
            )
        log.info("model answer unusable; asking once for a repair", model=self.name, kind=kind, problem=problem[:200])
        usage.repairs += 1
        content, _ = await self.chat(prompts.repair(messages, content, problem), usage, schema_name=kind, schema=schema)
        try:
            return check(parse_object(content))
        except (BadJson, outputs.BadOutput) as e:
            raise AiBadOutput(
                f"model {self.name!r} gave an unusable {kind} answer, also after a repair request: {e}",
                model=self.model,
            ) from None

    # --- the provider interface ----------------------------------------------------------

    async def analyze(self, doc: Document, want: Want, usage: Usage, progress: Progress = no_progress) -> Analysis:
        text, usage.truncated = truncate_tokens(doc.text, self.cfg.max_input_tokens)
        budget = self.cfg.chunk_tokens
        chunks = chunk_text(text, budget, overlap_tokens=min(100, budget // 10))
        usage.chunks = len(chunks)
        schema = prompts.schema("analysis", want)
        if len(chunks) <= 1:
            return await self._json_call(
                prompts.analyze(text, want, title=doc.title),
                usage,
                "analysis",
                schema,
                lambda o: outputs.analysis(o, want),
            )
        sem = asyncio.Semaphore(self.map_concurrency)
        done = 0

        async def part(i: int, chunk: str) -> Analysis:
            nonlocal done
            key = self._cache_key(want, i, len(chunks), chunk)
            if (hit := self._cache.get(key)) is not None:
                usage.cached += 1
            else:
                async with sem:
                    msgs = prompts.analyze_part(chunk, want, i + 1, len(chunks), title=doc.title)
                    hit = await self._json_call(msgs, usage, "analysis", schema, lambda o: outputs.analysis(o, want))
                self._remember(key, hit)
            done += 1
            await progress(int(80 * done / len(chunks)), f"read part {done} of {len(chunks)}")
            return hit

        parts = [_as_part(a) for a in await asyncio.gather(*(part(i, c) for i, c in enumerate(chunks)))]
        return await self._reduce(parts, want, usage, doc.title, budget, schema)

    async def _reduce(
        self, parts: list[dict[str, Any]], want: Want, usage: Usage, title: str, budget: int, schema: dict[str, Any]
    ) -> Analysis:
        """Partial results into one: a single request when they fit, else a tree of them."""

        def check(o: dict[str, Any]) -> Analysis:
            return outputs.analysis(o, want)

        while True:
            groups = _groups(parts, budget)
            if len(groups) == 1:
                return await self._json_call(
                    prompts.combine(groups[0], want, title=title), usage, "analysis", schema, check
                )
            merged = await asyncio.gather(
                *(self._json_call(prompts.combine(g, want), usage, "analysis", schema, check) for g in groups)
            )
            parts = [_as_part(a) for a in merged]

    async def extract_recipe(self, doc: Document, usage: Usage) -> dict[str, Any] | None:
        text, _ = truncate_tokens(doc.text, self.cfg.chunk_tokens)  # a recipe is read from the start of the text
        return await self._json_call(
            prompts.recipe(text, title=doc.title),
            usage,
            "recipe",
            prompts.schema("recipe"),
            lambda o: outputs.recipe(o, title=doc.title, source=text),
        )

    # --- chunk cache: a retried item does not pay again for the parts it already read ----

    def _cache_key(self, want: Want, i: int, n: int, chunk: str) -> str:
        h = hashlib.sha256()
        for v in (self.cfg.base_url, self.model, prompts.VERSION, repr(want), f"{i}/{n}", chunk):
            h.update(str(v).encode())
            h.update(b"\0")
        return h.hexdigest()

    def _remember(self, key: str, value: Analysis) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)


def _as_part(a: Analysis) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if a.summary is not None:
        d["summary"] = a.summary
    if a.keywords:
        d["keywords"] = a.keywords
    if a.insights:
        d["insights"] = a.insights
    return d


def _groups(parts: list[dict[str, Any]], budget: int) -> list[list[dict[str, Any]]]:
    """Consecutive parts packed into groups that fit the budget; always fewer groups than parts."""
    groups: list[list[dict[str, Any]]] = []
    size = 0
    for p in parts:
        n = estimate_tokens(json.dumps(p, ensure_ascii=False)) + 2
        if groups and size + n <= budget:
            groups[-1].append(p)
            size += n
        else:
            groups.append([p])
            size = n
    if 1 < len(groups) == len(parts):  # nothing fits together: pair them up anyway
        groups = [parts[i : i + 2] for i in range(0, len(parts), 2)]
    return groups
