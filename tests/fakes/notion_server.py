"""A local Notion API server for tests, following the documented contract, limits and errors.

It speaks the REST API under /v1 as developers.notion.com documents it, for both
Notion-Version 2022-06-28 (pages under databases) and 2025-09-03 (databases hold data
sources; pages go under a data source; `database_id` parents still work for a database
with one data source):

    GET   /v1/databases/{id}                 2025: data_sources list; 2022: the property schema
    GET   /v1/data_sources/{id}              2025 only: the property schema
    POST  /v1/data_sources/{id}/query        2025 (POST /v1/databases/{id}/query under 2022)
    POST  /v1/pages                          create a page (properties + up to 100 children)
    GET   /v1/pages/{id}, PATCH /v1/pages/{id}   read; trash (in_trash / archived) or set properties
    PATCH /v1/blocks/{id}/children           append up to 100 children
    GET   /v1/blocks/{id}/children           list children (page_size <= 100, start_cursor)

What it enforces, with Notion's error JSON ({"object": "error", "status", "code",
"message", "request_id"}):

* `Authorization: Bearer <token>` (401 unauthorized) and `Notion-Version` (400 missing_version);
* the request limits: rich text content and link URLs at most 2,000 characters
  (UTF-16 units, as JavaScript counts), rich text arrays at most 100 elements, at most
  100 children per array, two levels of nesting per request, 1,000 block elements and
  500 KB per request, URLs at most 2,000 characters, at most 100 multi_select options
  (names without commas, at most 100 characters): 400 validation_error;
* properties against the data source's schema ("X is not a property that exists.");
* the rate limit: a token bucket per token (`rate` requests a second on average,
  `burst` at once); beyond it, 429 rate_limited with an integer Retry-After.

Tests script faults (`fail(Fault(...))`): 409 conflict_error, 5xx, 429, slow answers,
and writes that are applied and then answered with an error or too late for the client
(the "timeout whose request actually succeeded"). They read what happened: `pages()`,
`page_blocks()`, `page_text()`, `requests`, `rate_limited`.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

VERSIONS = ("2022-06-28", "2025-09-03")
MAX_TEXT = 2000
MAX_ARRAY = 100
MAX_CHILDREN = 100
MAX_DEPTH = 2
MAX_BLOCKS = 1000
MAX_BYTES = 500_000
MAX_URL = 2000
MAX_OPTIONS = 100

TEXT_BLOCKS = {
    "paragraph",
    "heading_1",
    "heading_2",
    "heading_3",
    "bulleted_list_item",
    "numbered_list_item",
    "to_do",
    "toggle",
    "quote",
    "callout",
    "code",
}
NESTABLE = {"paragraph", "bulleted_list_item", "numbered_list_item", "to_do", "toggle", "quote", "callout"}
OTHER_BLOCKS = {"divider", "bookmark", "image"}

DEFAULT_SCHEMA = {
    "Name": "title",
    "URL": "url",
    "Tags": "multi_select",
    "Summary": "rich_text",
    "Distill ID": "rich_text",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def invalid(message: str) -> ApiError:
    return ApiError(400, "validation_error", message)


def utf16_len(s: str) -> int:
    return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Fault:
    """A scripted answer for the next matching request."""

    status: int | None = 500  # None: the real answer (after `delay`)
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    apply: bool = False  # carry the request out, then answer with `status` (or late)
    delay: float = 0.0  # seconds before answering
    method: str | None = None
    path: str | None = None  # regex searched in the path
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or re.search(self.path, path))


@dataclass
class Received:
    method: str
    path: str
    at: float
    size: int
    status: int = 0
    code: str = ""
    version: str = ""


@dataclass
class FakeNotion:
    token: str = "secret_fake_notion_token_0123456789"
    rate: float = 3.0  # average requests a second per token
    burst: int = 10  # requests allowed at once
    enforce_rate: bool = True
    latency: float = 0.0  # seconds added to every answer
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.databases: dict[str, dict[str, Any]] = {}
        self.data_sources: dict[str, dict[str, Any]] = {}
        self.page_store: dict[str, dict[str, Any]] = {}
        self.blocks: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.rate_limited = 0  # 429s from going over the rate (scripted ones not counted)
        self._buckets: dict[str, tuple[float, float]] = {}  # token -> (level, at)
        self._server: ThreadingHTTPServer | None = None

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> FakeNotion:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                return

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = fake.handle(method, self.path, dict(self.headers.items()), raw)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-notion").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- set-up and inspection -------------------------------------------------------------

    def add_database(
        self, schema: dict[str, str] | None = None, *, title: str = "Distill", sources: int = 1
    ) -> tuple[str, list[str]]:
        """A database with `sources` data sources sharing `schema`; (database id, data source ids)."""
        db_id = str(uuid.uuid4())
        ds_ids = [str(uuid.uuid4()) for _ in range(sources)]
        props = {
            name: {"id": uuid.uuid4().hex[:4], "name": name, "type": t, t: {}}
            for name, t in (schema or DEFAULT_SCHEMA).items()
        }
        with self.lock:
            self.databases[db_id] = {"title": title, "data_sources": ds_ids, "created_time": now_iso()}
            for n, ds in enumerate(ds_ids):
                self.data_sources[ds] = {"database_id": db_id, "name": f"{title} {n + 1}", "properties": props}
        return db_id, ds_ids

    def fail(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def pages(self, data_source_id: str | None = None, *, trashed: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            return [
                p
                for p in self.page_store.values()
                if (data_source_id is None or p["data_source_id"] == data_source_id) and (trashed or not p["in_trash"])
            ]

    def distill_ids(self, data_source_id: str | None = None, prop: str = "Distill ID") -> list[str]:
        return [plain(p["properties"].get(prop, {}).get("rich_text", [])) for p in self.pages(data_source_id)]

    def page_blocks(self, page_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [self.blocks[b] for b in self.page_store[page_id]["children"]]

    def page_text(self, page_id: str) -> str:
        """The plain text of every block of the page, in order, nested ones included."""
        with self.lock:
            out: list[str] = []

            def walk(ids: list[str]) -> None:
                for b in ids:
                    blk = self.blocks[b]
                    out.append(plain(blk[blk["type"]].get("rich_text", [])))
                    walk(blk["children"])

            walk(self.page_store[page_id]["children"])
            return "\n".join(out)

    def count(self, method: str, path_pattern: str = "") -> int:
        return sum(1 for r in self.requests if r.method == method and re.search(path_pattern, r.path))

    def max_in_window(self, seconds: float) -> int:
        """The most requests received in any window of `seconds`."""
        times = sorted(r.at for r in self.requests)
        best = j = 0
        for i, t in enumerate(times):
            while times[j] < t - seconds:
                j += 1
            best = max(best, i - j + 1)
        return best

    # --- the request path ------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(raw_path)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        h = {k.lower(): v for k, v in headers.items()}
        rec = Received(method, path, time.monotonic(), len(raw), version=h.get("notion-version", ""))
        with self.lock:
            self.requests.append(rec)
        fault = None
        try:
            self._check_auth(h)
            self._check_rate(h)
            with self.lock:
                fault = next((f for f in self.faults if f.matches(method, path)), None)
                if fault is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
            if fault is not None and not fault.apply:
                time.sleep(fault.delay)
                raise self._fault_error(fault)
            if len(raw) > MAX_BYTES:
                raise invalid(f"body failed validation: request body size {len(raw)} should be ≤ `{MAX_BYTES}`.")
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                raise ApiError(400, "invalid_json", "Error parsing JSON body.") from None
            version = h.get("notion-version", "")
            with self.lock:
                result = self._route(method, path, query, body, version)
            if fault is not None:  # applied: now answer late, or with the scripted error
                time.sleep(fault.delay)
                if fault.status is not None:
                    raise self._fault_error(fault)
            if self.latency:
                time.sleep(self.latency)
            rec.status = 200
            return 200, result, {}
        except ApiError as e:
            rec.status, rec.code = e.status, e.code
            if self.latency:
                time.sleep(self.latency)
            err = {"object": "error", "status": e.status, "code": e.code, "message": e.message}
            err["request_id"] = str(uuid.uuid4())
            return e.status, err, e.headers

    def _fault_error(self, f: Fault) -> ApiError:
        status = f.status or 500
        default = {
            409: ("conflict_error", "Conflict occurred while saving. Please try again."),
            429: ("rate_limited", "You have been rate limited. Please try again in a few minutes."),
            500: ("internal_server_error", "Unexpected error occurred."),
            502: ("bad_gateway", "Bad gateway."),
            503: ("service_unavailable", "Notion is unavailable, please try again later."),
            504: ("gateway_timeout", "Gateway timeout."),
        }.get(status, ("validation_error", "Scripted failure."))
        headers = {"Retry-After": str(int(math.ceil(f.retry_after)))} if f.retry_after is not None else {}
        return ApiError(status, f.code or default[0], f.message or default[1], headers)

    def _check_auth(self, h: dict[str, str]) -> None:
        if h.get("authorization") != f"Bearer {self.token}":
            raise ApiError(401, "unauthorized", "API token is invalid.")
        v = h.get("notion-version")
        if not v:
            raise ApiError(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should be defined, instead was "
                "`undefined`.",
            )
        if v not in VERSIONS:
            raise invalid(f"Notion-Version header failed validation: `{v}` is not a supported version.")

    def _check_rate(self, h: dict[str, str]) -> None:
        if not self.enforce_rate:
            return
        token = h.get("authorization", "")
        with self.lock:
            now = time.monotonic()
            level, at = self._buckets.get(token, (float(self.burst), now))
            level = min(float(self.burst), level + (now - at) * self.rate)
            if level < 1.0:
                self._buckets[token] = (level, now)
                self.rate_limited += 1
                wait = max(1, math.ceil((1.0 - level) / self.rate))
                raise ApiError(
                    429,
                    "rate_limited",
                    "You have been rate limited. Please try again in a few minutes.",
                    {"Retry-After": str(wait)},
                )
            self._buckets[token] = (level - 1.0, now)

    # --- routing -----------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, str], body: Any, version: str) -> Any:
        new = version >= "2025-09-03"
        m = re.fullmatch(r"/v1/(databases|data_sources|pages|blocks)/([^/]+)(?:/(query|children))?", path)
        if path == "/v1/pages" and method == "POST":
            return self._create_page(body, new)
        if not m:
            raise ApiError(400, "invalid_request_url", "Invalid request URL.")
        kind, oid, sub = m.group(1), norm(m.group(2)), m.group(3)
        if kind == "databases" and sub is None and method == "GET":
            return self._database(oid, new)
        if kind == "databases" and sub == "query" and method == "POST":
            if new:
                raise ApiError(400, "invalid_request_url", "Invalid request URL.")
            return self._query(self._single_source(oid), body)
        if kind == "data_sources" and new and sub is None and method == "GET":
            return self._data_source(oid)
        if kind == "data_sources" and new and sub == "query" and method == "POST":
            if oid not in self.data_sources:
                raise self._not_found(oid, "data source")
            return self._query(oid, body)
        if kind == "pages" and sub is None and method == "GET":
            return self._page_obj(self._page(oid))
        if kind == "pages" and sub is None and method == "PATCH":
            return self._update_page(oid, body)
        if kind == "blocks" and sub == "children" and method == "PATCH":
            return self._append(oid, body)
        if kind == "blocks" and sub == "children" and method == "GET":
            return self._list_children(oid, query)
        raise ApiError(400, "invalid_request_url", "Invalid request URL.")

    @staticmethod
    def _not_found(oid: str, what: str = "object") -> ApiError:
        return ApiError(
            404,
            "object_not_found",
            f"Could not find {what} with ID: {oid}. Make sure the relevant pages and databases are shared with "
            "your integration.",
        )

    def _database(self, oid: str, new: bool) -> dict[str, Any]:
        db = self.databases.get(oid)
        if db is None:
            raise self._not_found(oid, "database")
        out: dict[str, Any] = {
            "object": "database",
            "id": oid,
            "title": [{"type": "text", "text": {"content": db["title"]}, "plain_text": db["title"]}],
            "created_time": db["created_time"],
        }
        if new:
            out["data_sources"] = [{"id": d, "name": self.data_sources[d]["name"]} for d in db["data_sources"]]
        else:
            out["properties"] = self.data_sources[self._single_source(oid)]["properties"]
        return out

    def _single_source(self, db_id: str) -> str:
        db = self.databases.get(db_id)
        if db is None:
            raise self._not_found(db_id, "database")
        if len(db["data_sources"]) != 1:
            raise invalid(
                f"Database {db_id} has multiple data sources; this API version does not support it. Use API version "
                "2025-09-03 and a data_source_id."
            )
        return db["data_sources"][0]

    def _data_source(self, oid: str) -> dict[str, Any]:
        ds = self.data_sources.get(oid)
        if ds is None:
            raise self._not_found(oid, "data source")
        return {
            "object": "data_source",
            "id": oid,
            "name": ds["name"],
            "parent": {"type": "database_id", "database_id": ds["database_id"]},
            "properties": ds["properties"],
        }

    # --- pages ---------------------------------------------------------------------------------

    def _parent(self, parent: Any, new: bool) -> str:
        if not isinstance(parent, dict):
            raise invalid("body failed validation: body.parent should be an object, instead was `undefined`.")
        if "data_source_id" in parent:
            if not new:
                raise invalid("body failed validation: body.parent.data_source_id should be not present.")
            ds = norm(str(parent["data_source_id"]))
            if ds not in self.data_sources:
                raise self._not_found(ds, "data source")
            return ds
        if "database_id" in parent:
            return self._single_source(norm(str(parent["database_id"])))
        raise invalid("body failed validation: body.parent.database_id should be defined, instead was `undefined`.")

    def _create_page(self, body: Any, new: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid("body failed validation: body should be an object.")
        ds = self._parent(body.get("parent"), new)
        props = self._check_properties(ds, body.get("properties") or {})
        children = body.get("children") or []
        check_children(children, "body.children", 1)
        page_id = str(uuid.uuid4())
        page = {
            "id": page_id,
            "data_source_id": ds,
            "database_id": self.data_sources[ds]["database_id"],
            "properties": props,
            "in_trash": False,
            "created_time": now_iso(),
            "children": [],
        }
        self.page_store[page_id] = page
        page["children"] = self._store_blocks(children, page_id)
        return self._page_obj(page)

    def _page(self, oid: str) -> dict[str, Any]:
        p = self.page_store.get(oid)
        if p is None:
            raise self._not_found(oid, "page")
        return p

    def _page_obj(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "object": "page",
            "id": p["id"],
            "created_time": p["created_time"],
            "last_edited_time": p["created_time"],
            "in_trash": p["in_trash"],
            "archived": p["in_trash"],
            "url": f"https://www.notion.so/{p['id'].replace('-', '')}",
            "parent": {
                "type": "data_source_id",
                "data_source_id": p["data_source_id"],
                "database_id": p["database_id"],
            },
            "properties": p["properties"],
        }

    def _update_page(self, oid: str, body: Any) -> dict[str, Any]:
        p = self._page(oid)
        if not isinstance(body, dict):
            raise invalid("body failed validation: body should be an object.")
        for flag in ("in_trash", "archived"):
            if flag in body:
                p["in_trash"] = bool(body[flag])
        if body.get("properties"):
            p["properties"].update(self._check_properties(p["data_source_id"], body["properties"]))
        return self._page_obj(p)

    def _check_properties(self, ds: str, props: Any) -> dict[str, Any]:
        if not isinstance(props, dict):
            raise invalid("body failed validation: body.properties should be an object.")
        schema = self.data_sources[ds]["properties"]
        out = {}
        for name, val in props.items():
            if name not in schema:
                raise invalid(f"{name} is not a property that exists.")
            ptype = schema[name]["type"]
            if not isinstance(val, dict) or ptype not in val:
                raise invalid(f"{name} is expected to be {ptype}.")
            v = val[ptype]
            where = f"body.properties.{name}.{ptype}"
            if ptype in ("title", "rich_text"):
                check_rich_text(v, where)
            elif ptype == "url" and v is not None:
                if not isinstance(v, str) or len(v) > MAX_URL:
                    raise invalid(
                        f"body failed validation: {where}.length should be ≤ `{MAX_URL}`, instead was `{len(str(v))}`."
                    )
            elif ptype == "multi_select":
                if not isinstance(v, list):
                    raise invalid(f"body failed validation: {where} should be an array.")
                if len(v) > MAX_OPTIONS:
                    raise invalid(
                        f"body failed validation: {where}.length should be ≤ `{MAX_OPTIONS}`, instead was `{len(v)}`."
                    )
                for i, o in enumerate(v):
                    name_ = str((o or {}).get("name", ""))
                    if "," in name_:
                        raise invalid(f"body failed validation: {where}[{i}].name should not contain commas.")
                    if len(name_) > 100:
                        raise invalid(f"body failed validation: {where}[{i}].name.length should be ≤ `100`.")
            out[name] = {"id": schema[name]["id"], "type": ptype, ptype: v}
        return out

    # --- blocks ----------------------------------------------------------------------------------

    def _store_blocks(self, children: list[dict[str, Any]], parent: str) -> list[str]:
        ids = []
        for c in children:
            bid = str(uuid.uuid4())
            t = c["type"]
            content = {k: v for k, v in c[t].items() if k != "children"}
            self.blocks[bid] = {"object": "block", "id": bid, "type": t, t: content, "parent": parent, "children": []}
            self.blocks[bid]["children"] = self._store_blocks(c[t].get("children") or [], bid)
            ids.append(bid)
        return ids

    def _container(self, oid: str) -> dict[str, Any]:
        if oid in self.page_store:
            return self.page_store[oid]
        if oid in self.blocks:
            return self.blocks[oid]
        raise self._not_found(oid, "block")

    def _append(self, oid: str, body: Any) -> dict[str, Any]:
        target = self._container(oid)
        if not isinstance(body, dict) or not isinstance(body.get("children"), list):
            raise invalid("body failed validation: body.children should be an array, instead was `undefined`.")
        level = 1 if oid in self.page_store else 2
        if level == 2 and target["type"] not in NESTABLE:
            raise invalid(f"Block type {target['type']} does not support children.")
        check_children(body["children"], "body.children", 1)
        new_ids = self._store_blocks(body["children"], oid)
        target["children"].extend(new_ids)
        return {
            "object": "list",
            "results": [self._block_obj(b) for b in new_ids],
            "next_cursor": None,
            "has_more": False,
        }

    def _block_obj(self, bid: str) -> dict[str, Any]:
        b = self.blocks[bid]
        return {k: v for k, v in b.items() if k not in ("children", "parent")} | {"has_children": bool(b["children"])}

    def _list_children(self, oid: str, query: dict[str, str]) -> dict[str, Any]:
        ids = self._container(oid)["children"]
        size = int(query.get("page_size") or 100)
        if not 1 <= size <= 100:
            raise invalid(f"body failed validation: page_size should be ≤ `100`, instead was `{size}`.")
        start = ids.index(query["start_cursor"]) if query.get("start_cursor") in ids else 0
        chunk = ids[start : start + size]
        more = start + size < len(ids)
        return {
            "object": "list",
            "results": [self._block_obj(b) for b in chunk],
            "next_cursor": ids[start + size] if more else None,
            "has_more": more,
            "type": "block",
            "block": {},
        }

    # --- query -----------------------------------------------------------------------------------

    def _query(self, ds: str, body: Any) -> dict[str, Any]:
        body = body or {}
        size = int(body.get("page_size") or 100)
        if not 1 <= size <= 100:
            raise invalid(f"body failed validation: body.page_size should be ≤ `100`, instead was `{size}`.")
        schema = self.data_sources[ds]["properties"]
        flt = body.get("filter")
        rows = [
            p
            for p in sorted(self.page_store.values(), key=lambda p: p["created_time"])
            if p["data_source_id"] == ds and not p["in_trash"] and (flt is None or matches(flt, p, schema))
        ]
        ids = [p["id"] for p in rows]
        start = ids.index(body["start_cursor"]) if body.get("start_cursor") in ids else 0
        chunk = rows[start : start + size]
        more = start + size < len(rows)
        return {
            "object": "list",
            "results": [self._page_obj(p) for p in chunk],
            "next_cursor": ids[start + size] if more else None,
            "has_more": more,
            "type": "page_or_data_source",
            "page_or_data_source": {},
        }


# --- validation (module level: shared by create and append) ----------------------------------


def norm(oid: str) -> str:
    h = oid.replace("-", "").lower()
    if re.fullmatch(r"[0-9a-f]{32}", h):
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return oid


def plain(rich: Iterable[dict[str, Any]]) -> str:
    return "".join(str((r.get("text") or {}).get("content", "")) for r in rich)


def check_rich_text(rt: Any, where: str) -> None:
    if not isinstance(rt, list):
        raise invalid(f"body failed validation: {where} should be an array, instead was `{type(rt).__name__}`.")
    if len(rt) > MAX_ARRAY:
        raise invalid(f"body failed validation: {where}.length should be ≤ `{MAX_ARRAY}`, instead was `{len(rt)}`.")
    for i, r in enumerate(rt):
        text = (r or {}).get("text")
        if not isinstance(text, dict) or not isinstance(text.get("content"), str):
            raise invalid(
                f"body failed validation: {where}[{i}].text.content should be defined, instead was `undefined`."
            )
        n = utf16_len(text["content"])
        if n > MAX_TEXT:
            raise invalid(
                f"body failed validation: {where}[{i}].text.content.length should be ≤ `{MAX_TEXT}`, instead was `{n}`."
            )
        link = text.get("link")
        if link is not None:
            url = str((link or {}).get("url", ""))
            if len(url) > MAX_URL:
                raise invalid(
                    f"body failed validation: {where}[{i}].text.link.url.length should be ≤ `{MAX_URL}`, instead was "
                    f"`{len(url)}`."
                )
            if not re.match(r"^https?://\S+$", url):
                raise invalid("Invalid URL for link.")


def check_children(children: Any, where: str, level: int) -> int:
    """Validate a children array at nesting `level` (1 = directly under the page); returns block elements."""
    if not isinstance(children, list):
        raise invalid(f"body failed validation: {where} should be an array.")
    if len(children) > MAX_CHILDREN:
        raise invalid(
            f"body failed validation: {where}.length should be ≤ `{MAX_CHILDREN}`, instead was `{len(children)}`."
        )
    total = 0
    for i, b in enumerate(children):
        here = f"{where}[{i}]"
        t = (b or {}).get("type") or next((k for k in (b or {}) if k in TEXT_BLOCKS | OTHER_BLOCKS), None)
        if t not in TEXT_BLOCKS | OTHER_BLOCKS or not isinstance(b.get(t), dict):
            raise invalid(f"body failed validation: {here} should be a supported block type, instead was `{t}`.")
        payload = b[t]
        if t in TEXT_BLOCKS:
            check_rich_text(payload.get("rich_text"), f"{here}.{t}.rich_text")
        kids = payload.get("children")
        total += 1
        if kids:
            if t not in NESTABLE:
                raise invalid(
                    f"body failed validation: {here}.{t}.children should be not present, instead was `[...]`."
                )
            if level >= MAX_DEPTH:
                raise invalid(
                    f"body failed validation: {here}.{t}.children should be not present, instead was `[...]`. "
                    f"At most {MAX_DEPTH} levels of nesting are allowed in one request."
                )
            total += check_children(kids, f"{here}.{t}.children", level + 1)
    if level == 1 and total > MAX_BLOCKS:
        raise invalid(
            f"body failed validation: the request has {total} block elements; at most {MAX_BLOCKS} are allowed."
        )
    return total


def matches(flt: dict[str, Any], page: dict[str, Any], schema: dict[str, Any]) -> bool:
    if "and" in flt:
        return all(matches(f, page, schema) for f in flt["and"])
    if "or" in flt:
        return any(matches(f, page, schema) for f in flt["or"])
    name = flt.get("property")
    if name not in schema:
        raise invalid(f"Could not find property with name or id: {name}")
    ptype = schema[name]["type"]
    kind = next((k for k in flt if k != "property"), None)
    text_like = {"title", "rich_text", "url", "email", "phone_number"}
    if kind != ptype and not (kind in ("rich_text", "title") and ptype in text_like):
        raise invalid(f"database property {ptype} does not match filter {kind}")
    cond = flt[kind]
    val = (page["properties"].get(name) or {}).get(ptype)
    if ptype in ("title", "rich_text"):
        s = plain(val or [])
    elif ptype == "multi_select":
        names = [o.get("name") for o in val or []]
        if "contains" in cond:
            return cond["contains"] in names
        if "does_not_contain" in cond:
            return cond["does_not_contain"] not in names
        return (not names) if cond.get("is_empty") else bool(names)
    else:
        s = "" if val is None else str(val)
    if "equals" in cond:
        return s == str(cond["equals"])
    if "does_not_equal" in cond:
        return s != str(cond["does_not_equal"])
    if "contains" in cond:
        return str(cond["contains"]) in s
    if "starts_with" in cond:
        return s.startswith(str(cond["starts_with"]))
    if "is_empty" in cond:
        return not s
    if "is_not_empty" in cond:
        return bool(s)
    raise invalid(f"body failed validation: unsupported filter condition {sorted(cond)}.")
