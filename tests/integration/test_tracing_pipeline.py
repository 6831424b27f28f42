"""One item's trace, from the client's CreateTask through the gateway and the three stages,
with the context crossing gRPC metadata and NATS for real (in-memory span exporter); and
the log lines of that item, which carry the same trace id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from distill_core import logging as dlog
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.integration.pipeline_fixture import running_pipeline
from tests.span_capture import captured_spans

pytestmark = pytest.mark.integration

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with captured_spans() as exporter:
        yield exporter


@pytest.fixture
def json_logs() -> Iterator[Any]:
    """The process logs JSON lines as a service does (into a buffer) for one test; the callable reads them."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    dlog.configure("pipeline-test", "INFO", "json")
    # The same processors, into the buffer, and no logger cached for later tests.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer), cache_logger_on_first_use=False)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(x) for x in buffer.getvalue().splitlines() if x.startswith("{")]

    yield lines
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def _hex(n: int, width: int) -> str:
    return format(n, f"0{width}x")


async def test_one_trace_follows_an_item_through_gateway_and_stages(
    nats_url: str, fresh_database_url: str, tmp_path: Path, spans: InMemorySpanExporter, json_logs: Any
) -> None:
    async with running_pipeline(nats_url, fresh_database_url, tmp_path) as p:
        _, key = await p.gw.tenant()
        traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
        urls = [p.pages.url("article.html"), p.pages.url("missing.html")]
        task_id = await p.submit(key, urls, metadata=(("traceparent", traceparent),))
        assert await p.finished(task_id) == "partially_failed"
        [ok_item] = await p.gw.sql("SELECT id FROM items WHERE task_id = :t AND status = 'succeeded'", t=_uuid(task_id))
        [bad_item] = await p.gw.sql("SELECT id FROM items WHERE task_id = :t AND status = 'failed'", t=_uuid(task_id))
        [task] = await p.gw.sql("SELECT trace FROM tasks WHERE id = :t", t=_uuid(task_id))

    finished = spans.get_finished_spans()
    ours = [s for s in finished if _hex(s.context.trace_id, 32) == CLIENT_TRACE]
    others = sorted({s.name for s in finished if s not in ours})
    assert others == [], f"spans outside the client's trace (health checks make none): {others}"

    def of_item(name: str, item: dict[str, Any]) -> list[ReadableSpan]:
        return [s for s in ours if s.name == name and s.attributes.get("distill.item_id") == str(item["id"])]

    def child(parent: ReadableSpan, name: str) -> ReadableSpan:
        [found] = [s for s in ours if s.name == name and s.parent and s.parent.span_id == parent.context.span_id]
        return found

    [gateway] = [s for s in ours if s.name == "distill.v1.Pipeline/CreateTask"]
    [parse], [ai], [notion] = (of_item(n, ok_item) for n in ("parse", "ai", "notion"))
    # gRPC: the gateway continued the client's span; the task stored the gateway's context.
    assert _hex(gateway.parent.span_id, 16) == CLIENT_SPAN and gateway.parent.is_remote
    assert task["trace"]["traceparent"].split("-")[2] == _hex(gateway.context.span_id, 16)
    assert gateway.attributes["rpc.grpc.status_code"] == "OK"
    # NATS: each stage continues from the one before it, from the job it received.
    assert parse.parent.span_id == gateway.context.span_id and parse.parent.is_remote
    assert ai.parent.span_id == parse.context.span_id and ai.parent.is_remote
    assert notion.parent.span_id == ai.context.span_id and notion.parent.is_remote
    assert [q.parent.span_id for q in of_item("parse queued", ok_item)] == [gateway.context.span_id]
    assert [q.parent.span_id for q in of_item("ai queued", ok_item)] == [parse.context.span_id]
    assert [q.parent.span_id for q in of_item("notion queued", ok_item)] == [ai.context.span_id]
    # Inside the stages: the fetch, the extraction, the analysis.
    assert child(parse, "fetch").attributes["http.response.status_code"] == 200
    assert child(parse, "extract").attributes["distill.word_count"] > 100
    assert child(ai, "ai analyze").attributes["gen_ai.system"] == "local"
    for sp in (parse, ai, notion):
        assert sp.attributes["distill.task_id"] == task_id and sp.attributes["distill.attempt"] == 1
        assert sp.status.is_ok and gateway.start_time < sp.start_time
    assert parse.end_time <= ai.start_time and ai.end_time <= notion.start_time

    # The 404: its parse span is in the same trace, an error with the code; no later stage.
    [bad_parse] = of_item("parse", bad_item)
    assert bad_parse.parent.span_id == gateway.context.span_id
    assert not bad_parse.status.is_ok and bad_parse.attributes["error.type"] == "HTTP_NOT_FOUND"
    assert child(bad_parse, "fetch").status.status_code.name == "ERROR"
    assert of_item("ai", bad_item) == []

    # Logs: the failed attempt's line names the item, its stage and attempt, and the trace.
    lines = json_logs()
    [line] = [x for x in lines if x.get("event") == "attempt failed" and x.get("item_id") == str(bad_item["id"])]
    assert line["service"] == "pipeline-test" and line["stage"] == "parse" and line["attempt"] == 1
    assert line["task_id"] == task_id and line["trace_id"] == CLIENT_TRACE and line["code"] == "HTTP_NOT_FOUND"
    created = [x for x in lines if x.get("event") == "task created" and x.get("task_id") == task_id]
    assert created and created[0]["trace_id"] == CLIENT_TRACE


def _uuid(s: str) -> Any:
    import uuid

    return uuid.UUID(s)
