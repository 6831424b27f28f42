"""The gateway's HTTP side, its pure parts: problem details, JSON and query mapping, SSE
framing, the in-process call context, and the dashboard's files referring to each other."""

from __future__ import annotations

import asyncio
import json
import re

import grpc
import pytest
from distill.v1 import pipeline_pb2, task_pb2
from distill_core.errors import InvalidInput
from distill_gateway.web import bridge, jsonmap, problems, sse
from distill_gateway.web.server import STATIC

# --- problem details --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code,status",
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.FAILED_PRECONDITION, 400),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.INTERNAL, 500),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
    ],
)
def test_grpc_codes_map_to_google_http_statuses(code: grpc.StatusCode, status: int) -> None:
    got, doc = problems.problem(code, "what is wrong", "/v1/tasks")
    assert got == status
    assert doc == {
        "type": "about:blank",
        "title": problems.title(status),
        "status": status,
        "detail": "what is wrong",
        "code": code.name,
        "instance": "/v1/tasks",
    }


def test_problem_titles_and_headers() -> None:
    assert problems.title(404) == "Not Found" and problems.title(499) == "Client Closed Request"
    assert problems.problem(grpc.StatusCode.RESOURCE_EXHAUSTED, "x", status=413)[0] == 413
    assert problems.headers_for(grpc.StatusCode.UNAUTHENTICATED)["WWW-Authenticate"].startswith("Bearer")
    assert problems.headers_for(grpc.StatusCode.NOT_FOUND) == {}


# --- JSON and query parameters ------------------------------------------------------------------


def test_answers_use_proto_names_and_show_defaults() -> None:
    doc = jsonmap.to_json(task_pb2.Task(id="t1", status=task_pb2.TASK_STATUS_RUNNING))
    assert doc["id"] == "t1" and doc["status"] == "TASK_STATUS_RUNNING"
    assert doc["progress"] == 0 and doc["labels"] == {} and doc["stages"] == []
    counted = jsonmap.to_json(task_pb2.Task(counts=task_pb2.TaskCounts(total=2)))["counts"]
    assert counted == {"total": 2, "pending": 0, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
    assert "create_time" not in doc, "unset messages stay absent"
    assert "input_kind" in doc and "idempotency_key" in doc, "proto field names"


def test_bodies_parse_both_name_styles_and_say_what_is_wrong() -> None:
    req = jsonmap.parse_body(b'{"urls": ["https://a.example/"], "idempotencyKey": "k"}', pipeline_pb2.CreateTaskRequest)
    assert list(req.urls) == ["https://a.example/"] and req.idempotency_key == "k"
    assert jsonmap.parse_body(b"  ", pipeline_pb2.CreateTaskRequest) == pipeline_pb2.CreateTaskRequest()
    for body, words in [
        (b"{", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b'{"nope": 1}', "nope"),
        (b'{"priority": "URGENT"}', "URGENT"),
        (b"\xff\xfe", "not valid JSON"),
    ]:
        with pytest.raises(InvalidInput, match=words):
            jsonmap.parse_body(body, pipeline_pb2.CreateTaskRequest)


def test_enum_values_accept_friendly_and_full_names() -> None:
    d = task_pb2.TaskStatus.DESCRIPTOR
    for raw in ("failed", "FAILED", "TASK_STATUS_FAILED", " failed ", "5"):
        assert jsonmap.enum_value(d, "status", raw) == task_pb2.TASK_STATUS_FAILED
    assert jsonmap.enum_value(d, "status", "partially-failed") == task_pb2.TASK_STATUS_PARTIALLY_FAILED
    with pytest.raises(InvalidInput, match="one of: queued, running"):
        jsonmap.enum_value(d, "status", "done")
    with pytest.raises(InvalidInput):
        jsonmap.enum_value(d, "status", "unspecified")
    assert jsonmap.enum_list(d, "status", ["queued,running", "failed"]) == [1, 2, 5]
    assert jsonmap.enum_value(task_pb2.ItemView.DESCRIPTOR, "view", "full") == task_pb2.FULL


def test_query_helpers() -> None:
    assert jsonmap.labels("label", ["a=1", "b:2", "c=x=y"]) == {"a": "1", "b": "2", "c": "x=y"}
    with pytest.raises(InvalidInput, match="key=value"):
        jsonmap.labels("label", ["novalue"])
    assert jsonmap.boolean("x", "true") and not jsonmap.boolean("x", None) and not jsonmap.boolean("x", "0")
    with pytest.raises(InvalidInput):
        jsonmap.boolean("x", "maybe")
    assert jsonmap.integer("page_size", "20") == 20 and jsonmap.integer("page_size", None) == 0
    with pytest.raises(InvalidInput, match="whole number"):
        jsonmap.integer("page_size", "ten")
    with pytest.raises(InvalidInput, match="at least 0"):
        jsonmap.integer("page_size", "-1")
    jsonmap.check_params({"status": "x"}, ["status"])
    with pytest.raises(InvalidInput, match=r"'stauts'.*expected: status"):
        jsonmap.check_params({"stauts": "x"}, ["status"])


# --- Server-Sent Events --------------------------------------------------------------------------


def test_event_frames() -> None:
    assert sse.frame("ping", "{}", id=7) == b"id: 7\nevent: ping\ndata: {}\n\n"
    assert sse.frame("x", "a\nb", retry=10) == b"retry: 10\nevent: x\ndata: a\ndata: b\n\n"
    ev = task_pb2.TaskEvent(sequence=42, type=task_pb2.EVENT_TYPE_ITEM_UPDATED, task_id="t", event_id="e")
    ev.item.id = "i\nj"  # a newline inside a value stays escaped in the JSON
    text = sse.event_frame(ev).decode()
    lines = text.rstrip("\n").split("\n")
    assert lines[:2] == ["id: 42", "event: item"] and len(lines) == 3
    doc = json.loads(lines[2].removeprefix("data: "))
    assert doc["sequence"] == "42" and doc["item"]["id"] == "i\nj"
    names = {t: sse.EVENT_NAME[t] for t in sse.EVENT_NAME}
    assert sorted(names.values()) == ["item", "ping", "snapshot", "task"]
    problem = sse.problem_frame({"status": 429}).decode()
    assert problem.startswith("event: problem\n") and "id:" not in problem, "a problem never moves the resume point"


def test_resume_sequence() -> None:
    assert sse.resume_sequence(None, None) == 0
    assert sse.resume_sequence("17", "3") == 17, "Last-Event-ID wins"
    assert sse.resume_sequence(" ", "3") == 3
    for bad in ("-1", "x", "1.5", str(2**64)):
        with pytest.raises(InvalidInput):
            sse.resume_sequence(bad, None)


# --- the in-process call context ------------------------------------------------------------------


def test_peer_and_metadata() -> None:
    assert bridge.peer_of(("10.0.0.5", 5123)) == "ipv4:10.0.0.5:5123"
    assert bridge.peer_of(("::1", 80)) == "ipv6:[::1]:80"
    assert bridge.peer_of(None) == "unknown"
    md = bridge.metadata_of({"authorization": "Bearer k", "cookie": "c", "traceparent": "00-1-2-01"})
    assert md == (("authorization", "Bearer k"), ("traceparent", "00-1-2-01")), "only what the API reads"


async def test_the_context_turns_abort_into_an_exception_and_runs_done_callbacks() -> None:
    ctx = bridge.HttpCallContext((("authorization", "Bearer k"),), "ipv4:1.2.3.4:5")
    done: list[object] = []
    ctx.add_done_callback(done.append)

    async def method(request: object, context: bridge.HttpCallContext) -> object:
        assert context.invocation_metadata() == (("authorization", "Bearer k"),)
        await context.abort(grpc.StatusCode.NOT_FOUND, "task x not found")
        raise AssertionError("abort returns never")

    with pytest.raises(bridge.RpcAbort) as e:
        await bridge.unary(method, pipeline_pb2.GetTaskRequest(), ctx)
    assert e.value.code == grpc.StatusCode.NOT_FOUND and e.value.details == "task x not found"
    assert done == [ctx] and ctx.done()

    async def sets_code(request: object, context: bridge.HttpCallContext) -> object:
        context.set_code(grpc.StatusCode.FAILED_PRECONDITION)
        context.set_details("no")
        return task_pb2.Task()

    with pytest.raises(bridge.RpcAbort, match="FAILED_PRECONDITION"):
        await bridge.unary(sets_code, pipeline_pb2.GetTaskRequest(), bridge.HttpCallContext(()))


async def test_closing_a_stream_closes_the_servicer_generator() -> None:
    closed = asyncio.Event()

    async def method(request: object, context: bridge.HttpCallContext):  # type: ignore[no-untyped-def]
        try:
            for n in range(100):
                yield task_pb2.TaskEvent(sequence=n)
        finally:
            closed.set()

    ctx = bridge.HttpCallContext(())
    events = bridge.stream(method, pipeline_pb2.WatchTaskRequest(), ctx)
    assert (await anext(events)).sequence == 0
    await events.aclose()
    assert closed.is_set() and ctx.done()


# --- the dashboard's files -------------------------------------------------------------------------


def test_every_file_the_dashboard_names_is_there() -> None:
    page = (STATIC / "index.html").read_text()
    named = set(re.findall(r'(?:src|href)="/static/([^"]+)"', page))
    manifest = json.loads((STATIC / "manifest.webmanifest").read_text())
    named |= {i["src"].removeprefix("/static/") for i in manifest["icons"]}
    worker = (STATIC / "sw.js").read_text()
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", worker).group(1))  # type: ignore[union-attr]
    named |= {p.removeprefix("/static/") for p in shell if p.startswith("/static/")}
    missing = sorted(n for n in named if not (STATIC / n).is_file())
    assert not missing, f"named but not shipped: {missing}"
    for element_id in re.findall(r'\$\("([\w-]+)"\)', (STATIC / "app.js").read_text()):
        assert f'id="{element_id}"' in page, f"app.js uses #{element_id}, which index.html lacks"
