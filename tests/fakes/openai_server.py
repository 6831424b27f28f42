"""A local OpenAI-compatible chat completions server, for tests.

It speaks the wire format of POST /v1/chat/completions as OpenAI documents it (and vLLM,
Ollama and llama.cpp's server copy it): bearer-key auth (401 `invalid_api_key`), unknown
models (404 `model_not_found`), `response_format` `json_object` (400 unless a message
mentions JSON, as OpenAI requires) and `json_schema`, `max_tokens` /
`max_completion_tokens` (a longer answer is cut and ends with finish_reason "length"),
`stream` (server-sent events when true), `usage` with token counts, and errors as
{"error": {"message", "type", "code"}}. An optional requests-per-minute limit answers 429
with Retry-After and x-ratelimit-* headers, as OpenAI does.

By default it answers like a (very plain) model would: the JSON object the prompt asks
for, built from the text in the prompt. Tests script other answers:

    llm = FakeOpenAI(api_key="sk-test")
    llm.queue(Reply(429, retry_after=1), Reply(500), Reply(content="not json"))  # the next three answers
    llm.when("BROKEN PAGE", Reply(content="{oops"))                              # any request containing it
    llm.requests            # what was received: body, headers, time, status answered
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    content: str | None = None  # the assistant message's content (status 200); None: the default brain's
    json: dict[str, Any] | None = None  # content as this object, serialised
    delay: float = 0.0  # seconds before answering (a slow model)
    retry_after: float | str | None = None
    message: str | None = None  # error message (status != 200)
    code: str | None = None  # error code (status != 200)
    finish_reason: str | None = None
    usage: bool = True  # include token usage
    raw: bytes | None = None  # the whole body, verbatim (a broken server)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    at: float
    status: int = 0

    @property
    def prompt(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in (self.body or {}).get("messages", []))


@dataclass
class _Rule:
    needle: str
    reply: Reply
    times: int | None


@dataclass
class FakeOpenAI:
    api_key: str | None = None
    models: tuple[str, ...] = ("fake-gpt",)
    rpm: int | None = None  # answer 429 beyond this many requests in any 60 s
    brain: Callable[[dict[str, Any]], str] | None = None
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue: deque[Reply] = deque()
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._served: deque[float] = deque()
        self._n = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    data = {
                        "object": "list",
                        "data": [{"id": m, "object": "model", "owned_by": "fake"} for m in fake.models],
                    }
                    _send(self, 200, data)
                else:
                    _send(
                        self, 404, _err(f"Unknown request URL: GET {self.path}", "invalid_request_error", "unknown_url")
                    )

            def log_message(self, *a: object) -> None:
                return None

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """The base URL to configure (DISTILL_AI_BASE_URL): ends in /v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()

    def queue(self, *replies: Reply) -> None:
        """The next answers, in order (then the default brain again)."""
        with self._lock:
            self._queue.extend(replies)

    def when(self, needle: str, reply: Reply, times: int | None = None) -> None:
        """Answer `reply` to requests whose prompt contains `needle` (`times` times, or always)."""
        with self._lock:
            self._rules.append(_Rule(needle, reply, times))

    def completions(self) -> list[Received]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # --- serving ---------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        rec = Received(h.path, {k.lower(): v for k, v in h.headers.items()}, None, time.monotonic())
        with self._lock:
            self.requests.append(rec)
        status, payload, headers, delay, stream = self._answer(h.path, rec, raw)
        rec.status = status
        if delay:
            time.sleep(delay)
        try:
            if stream and status == 200:
                _send_stream(h, payload)
            else:
                _send(h, status, payload, headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (its timeout)

    def _answer(self, path: str, rec: Received, raw: bytes) -> tuple[int, Any, dict[str, str], float, bool]:
        if path.rstrip("/") != "/v1/chat/completions":
            return 404, _err(f"Unknown request URL: POST {path}", "invalid_request_error", "unknown_url"), {}, 0, False
        if self.api_key is not None and rec.headers.get("authorization") != f"Bearer {self.api_key}":
            given = rec.headers.get("authorization", "")
            msg = (
                "You didn't provide an API key."
                if not given
                else f"Incorrect API key provided: {given.removeprefix('Bearer ')[:3]}***."
            )
            return 401, _err(msg, "invalid_request_error", "invalid_api_key"), {}, 0, False
        try:
            body = json.loads(raw)
            assert isinstance(body, dict)
        except (ValueError, AssertionError):
            return 400, _err("We could not parse the JSON body of your request.", "invalid_request_error"), {}, 0, False
        rec.body = body
        problem = _check_request(body, self.models)
        if problem is not None:
            return problem[0], problem[1], {}, 0, False
        limited = self._rate_limited()
        if limited is not None:
            return (
                429,
                _err(f"Rate limit reached for requests: limit {self.rpm} per min.", "requests", "rate_limit_exceeded"),
                limited,
                0,
                False,
            )
        reply = self._scripted(rec.prompt) or Reply()
        headers: dict[str, str] = {}
        if reply.retry_after is not None:
            headers["Retry-After"] = str(reply.retry_after)
        if reply.raw is not None:
            return reply.status, reply.raw, headers, reply.delay, False
        if reply.status != 200:
            msg = reply.message or {
                429: "Rate limit reached",
                500: "The server had an error while processing your request.",
            }.get(reply.status, "error")
            etype = "server_error" if reply.status >= 500 else "invalid_request_error"
            return reply.status, _err(msg, etype, reply.code), headers, reply.delay, False
        content = reply.content
        if reply.json is not None:
            content = json.dumps(reply.json)
        if content is None:
            content = (self.brain or default_brain)(body)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = reply.finish_reason or "stop"
        if isinstance(limit, int) and count_tokens(content) > limit:
            content = _cut(content, limit)
            finish = "length"
        with self._lock:
            self._n += 1
            n = self._n
        data: dict[str, Any] = {
            "id": f"chatcmpl-fake{n:06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
        }
        if reply.usage:
            pt = sum(count_tokens(str(m.get("content", ""))) + 4 for m in body["messages"])
            ct = count_tokens(content)
            data["usage"] = {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}
        return 200, data, headers, reply.delay, bool(body.get("stream"))

    def _scripted(self, prompt: str) -> Reply | None:
        with self._lock:
            for rule in self._rules:
                if rule.needle in prompt and (rule.times is None or rule.times > 0):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule.reply
            return self._queue.popleft() if self._queue else None

    def _rate_limited(self) -> dict[str, str] | None:
        if not self.rpm:
            return None
        now = time.monotonic()
        with self._lock:
            while self._served and now - self._served[0] >= 60:
                self._served.popleft()
            if len(self._served) >= self.rpm:
                wait = 60 - (now - self._served[0])
                return {
                    "Retry-After": str(max(1, round(wait))),
                    "x-ratelimit-limit-requests": str(self.rpm),
                    "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-reset-requests": f"{wait:.3f}s",
                }
            self._served.append(now)
        return None


# --- the wire ------------------------------------------------------------------------------


def _err(message: str, etype: str = "invalid_request_error", code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


def _check_request(body: dict[str, Any], models: tuple[str, ...]) -> tuple[int, dict[str, Any]] | None:
    model = body.get("model")
    if not model:
        return 400, _err("you must provide a model parameter", code="missing_model")
    if model not in models:
        return 404, _err(f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return 400, _err("'messages' must be a non-empty array", code="invalid_value")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "developer", "tool"):
            return 400, _err(f"Invalid value for 'messages[{i}].role'", code="invalid_value")
        if not isinstance(m.get("content"), str):
            return 400, _err(f"Invalid type for 'messages[{i}].content': expected a string", code="invalid_type")
    rf = body.get("response_format")
    if rf is not None:
        kind = rf.get("type") if isinstance(rf, dict) else None
        if kind not in ("text", "json_object", "json_schema"):
            return 400, _err("Invalid value for 'response_format.type'", code="invalid_value")
        if kind == "json_object" and not any("json" in str(m.get("content", "")).lower() for m in msgs):
            return 400, _err(
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                code="invalid_value",
            )
        if kind == "json_schema":
            js = rf.get("json_schema")
            if not isinstance(js, dict) or not js.get("name") or not isinstance(js.get("schema"), dict):
                return 400, _err("'response_format.json_schema' needs a 'name' and a 'schema'", code="invalid_value")
    for k in ("max_tokens", "max_completion_tokens"):
        if k in body and (not isinstance(body[k], int) or body[k] < 1):
            return 400, _err(f"Invalid '{k}': must be a positive integer", code="invalid_value")
    return None


def _send(h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(data)


def _send_stream(h: BaseHTTPRequestHandler, data: dict[str, Any]) -> None:
    """The same answer as server-sent events (stream: true), as OpenAI sends them."""
    text = data["choices"][0]["message"]["content"]
    chunks = []
    for i, piece in enumerate(re.findall(r"\S+\s*", text) or [""]):
        delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
        chunks.append(
            {
                **{k: data[k] for k in ("id", "created", "model")},
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            }
        )
    chunks.append(
        {
            **{k: data[k] for k in ("id", "created", "model")},
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": data["choices"][0]["finish_reason"]}],
        }
    )
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def count_tokens(text: str) -> int:
    """Tokens as this fake counts them (about one per short word or punctuation mark)."""
    return len(re.findall(r"\w{1,6}|[^\w\s]", text))


def _cut(text: str, limit: int) -> str:
    out = []
    n = 0
    for m in re.finditer(r"\w{1,6}|[^\w\s]|\s+", text):
        if not m.group().isspace():
            n += 1
            if n > limit:
                break
        out.append(m.group())
    return "".join(out)


# --- the default answers: a plain "model" that does what the prompt asks -------------------

_TEXT = re.compile(r'Text:\n"""\n(.*)\n"""', re.S)
_PARTS = re.compile(r"Parts:\n(.*)$", re.S)
_SENT = re.compile(r"(?<=[.!?])\s+")


def default_brain(body: dict[str, Any]) -> str:
    """The JSON object the last user message asks for, made from the text it holds."""
    prompt = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    if "That answer cannot be used" in prompt:  # a repair request: answer the original question properly
        prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if "cooking recipe" in prompt:
        return json.dumps(_recipe(prompt))
    keys = [k for k in ("summary", "keywords", "insights") if f'"{k}":' in prompt]
    if m := _PARTS.search(prompt):
        parts = json.loads(m.group(1))
        out: dict[str, Any] = {}
        if "summary" in keys:
            out["summary"] = " ".join(p.get("summary", "").split(". ")[0].rstrip(".") + "." for p in parts)
        for k in ("keywords", "insights"):
            if k in keys:
                merged: list[str] = []
                for p in parts:
                    merged.extend(x for x in p.get(k, []) if x not in merged)
                out[k] = merged[:8]
        return json.dumps(out)
    m = _TEXT.search(prompt)
    text = m.group(1) if m else prompt
    sents = [s for s in _SENT.split(" ".join(text.split())) if len(s.split()) >= 4]
    out = {}
    if "summary" in keys:
        out["summary"] = " ".join(sents[:2]) or text[:200]
    if "keywords" in keys:
        counts: dict[str, int] = {}
        for w in re.findall(r"\b[A-Za-z][a-z]{4,}\b", text):
            counts[w.lower()] = counts.get(w.lower(), 0) + 1
        out["keywords"] = [w for w, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:6]]
    if "insights" in keys:
        out["insights"] = [s for s in sents if re.search(r"\d", s)][:3]
    return json.dumps(out)


def _recipe(prompt: str) -> dict[str, Any]:
    m = _TEXT.search(prompt)
    lines = [x.strip() for x in (m.group(1) if m else "").splitlines() if x.strip()]
    ingredients = [x.lstrip("-• ") for x in lines if re.match(r"^[-•]?\s*\d", x) and len(x.split()) <= 8]
    steps = [re.sub(r"^\d+[.)]\s*", "", x) for x in lines if re.match(r"^\d+[.)]\s+\w+", x) and len(x.split()) > 4]
    if not ingredients:
        return {"is_recipe": False, "title": "", "ingredients": [], "instructions": []}
    return {
        "is_recipe": True,
        "title": lines[0] if lines else "",
        "ingredients": ingredients,
        "instructions": steps,
        "yields": next((x for x in lines if x.lower().startswith("serves")), ""),
        "prep_time_minutes": 0,
        "cook_time_minutes": "15 minutes",
        "total_time_minutes": 0,
        "description": "",
        "author": "",
        "cuisine": "",
        "category": "",
    }
