"""Tracing: the OTEL_* variables, W3C trace context, and the spans the runner and the gRPC
server make (with an in-memory exporter; no servers)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from distill.internal.v1 import jobs_pb2
from distill_core import tracing
from distill_core.errors import PermanentError
from distill_core.runner import JobContext
from distill_core.runner.events import job_msg
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.span_capture import captured_spans

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with captured_spans() as exporter:
        yield exporter


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({}, []),
        ({"OTEL_SERVICE_NAME": "x"}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp, Console,otlp"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, []),
    ],
)
def test_tracing_is_off_unless_the_standard_variables_ask(env: dict[str, str], want: list[str]) -> None:
    assert tracing.exporters_from_env(env) == want


def test_an_unknown_exporter_or_protocol_is_named() -> None:
    with pytest.raises(ValueError, match=r"OTEL_TRACES_EXPORTER='zipkin'.*zipkin.*otlp, console, none"):
        tracing.exporters_from_env({"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(ValueError, match=r"OTEL_EXPORTER_OTLP_PROTOCOL='http/json'.*grpc or http/protobuf"):
        tracing.otlp_protocol({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
    assert tracing.otlp_protocol({}) == "grpc"
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}
    assert tracing.otlp_protocol(env) == "http/protobuf"


def test_configure_builds_the_exporters_the_variables_name() -> None:
    assert tracing.configure("parser", {}) is False and not tracing.enabled()
    env = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_SERVICE_NAME": "p1"}
    try:
        assert tracing.configure("parser", env) is True and tracing.enabled()
        provider = tracing._provider
        assert provider.resource.attributes["service.name"] == "p1"
        [processor] = provider._active_span_processor._span_processors
        assert type(processor.span_exporter).__module__.startswith("opentelemetry.exporter.otlp.proto.http")
    finally:
        tracing.shutdown()
        tracing.uninstall()
    assert not tracing.enabled()


# --- trace context ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (TP, ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)),
        (TP.upper().replace("00-", "00-", 1), ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),  # all-zero trace id
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),  # all-zero span id
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),  # forbidden version
        ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", None),  # short trace id
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", None),
        ("00-zzf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),
        ("", None),
        (None, None),
    ],
)
def test_traceparent_parsing(value: str | None, want: Any) -> None:
    assert tracing.parse_traceparent(value) == want


def test_a_fresh_traceparent_is_valid_unsampled_and_new() -> None:
    rng = random.Random(7)
    a, b = tracing.new_traceparent(rng), tracing.new_traceparent(rng)
    pa = tracing.parse_traceparent(a)
    assert pa is not None and pa[2] == 0 and a != b
    assert tracing.trace_id({"traceparent": a}) == pa[0]
    assert tracing.trace_id({}) is None and tracing.trace_id(None) is None


def test_carriers_from_grpc_metadata_and_to_nats_headers() -> None:
    md = (("authorization", "Bearer x"), ("traceparent", TP), ("tracestate", "vendor=1"))
    assert tracing.carrier_from_metadata(md) == {"traceparent": TP, "tracestate": "vendor=1"}
    assert tracing.carrier_from_metadata((("traceparent", "garbage"), ("tracestate", "v=1"))) == {}
    assert tracing.carrier_from_metadata(None) == {}
    assert tracing.headers_of({"traceparent": TP, "other": "x"}) == {"traceparent": TP}
    assert tracing.headers_of({}) == {}


def test_with_tracing_off_a_task_keeps_the_clients_trace_or_gets_one() -> None:
    assert not tracing.enabled()
    assert tracing.task_carrier((("traceparent", TP),)) == {"traceparent": TP}
    fresh = tracing.task_carrier(())
    assert tracing.parse_traceparent(fresh["traceparent"]) is not None
    assert tracing.span("fetch") is tracing.span("extract")  # one shared no-op, nothing recorded
    with tracing.span("fetch") as sp:
        assert sp is None
        tracing.set_attributes(sp, {"a": 1})


def test_a_job_carries_its_trace_in_the_payload_and_the_nats_headers() -> None:
    row = {"id": "i1", "task_id": "t1", "tenant_id": "x", "generation": 0, "trace": {"traceparent": TP}}
    msg = job_msg(row, "ai")
    assert dict(jobs_pb2.Job.FromString(msg.data).trace) == {"traceparent": TP}
    assert msg.headers == {"traceparent": TP}
    bare = job_msg({**row, "trace": {}}, "ai")
    assert not bare.headers and not jobs_pb2.Job.FromString(bare.data).trace


# --- spans -------------------------------------------------------------------------------------


def _ctx(trace: dict[str, str]) -> JobContext:
    job = jobs_pb2.Job(item_id="item-1", task_id="task-1", trace=trace)
    job.enqueue_time.FromNanoseconds(1_000_000_000)
    return JobContext(msg=SimpleNamespace(headers=None), job=job, stage="parse", item={}, attempt=2)  # type: ignore[arg-type]


def test_a_stage_span_continues_the_job_and_hands_its_context_on(spans: InMemorySpanExporter) -> None:
    ctx = _ctx({"traceparent": TP})
    with tracing.stage_span(ctx), tracing.span("fetch", {"server.address": "example.com", "empty": None}):
        pass
    by = {s.name: s for s in spans.get_finished_spans()}
    stage, queued, fetch = by["parse"], by["parse queued"], by["fetch"]
    assert format(stage.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert format(stage.parent.span_id, "016x") == "00f067aa0ba902b7" and stage.parent.is_remote
    assert queued.parent.span_id == stage.parent.span_id and queued.start_time == 1_000_000_000
    assert fetch.parent.span_id == stage.context.span_id and "empty" not in fetch.attributes
    assert (
        dict(stage.attributes).items()
        >= {"distill.item_id": "item-1", "distill.task_id": "task-1", "distill.attempt": 2}.items()
    )
    # The next job continues from this span.
    nxt = tracing.parse_traceparent(ctx.trace["traceparent"])
    assert nxt == ("4bf92f3577b34da6a3ce929d0e0e4736", format(stage.context.span_id, "016x"), 1)


def test_a_failed_attempt_is_an_error_span_with_its_code(spans: InMemorySpanExporter) -> None:
    with pytest.raises(PermanentError), tracing.stage_span(_ctx({"traceparent": TP})):
        raise PermanentError("gone", code="HTTP_NOT_FOUND")
    [stage] = [s for s in spans.get_finished_spans() if s.name == "parse"]
    assert stage.status.status_code == StatusCode.ERROR and stage.attributes["error.type"] == "HTTP_NOT_FOUND"


def test_without_a_trace_a_stage_span_starts_one(spans: InMemorySpanExporter) -> None:
    with tracing.stage_span(_ctx({})):
        pass
    [stage] = [s for s in spans.get_finished_spans() if s.name == "parse"]
    assert stage.parent is None


def test_server_spans_continue_the_client_and_judge_codes(spans: InMemorySpanExporter) -> None:
    for code in ("OK", "NOT_FOUND", "INTERNAL"):
        with tracing.server_span("/distill.v1.Pipeline/GetTask", (("traceparent", TP),)) as sp:
            tracing.end_rpc(sp, code)
    ok, not_found, internal = spans.get_finished_spans()
    assert ok.name == "distill.v1.Pipeline/GetTask" and ok.attributes["rpc.method"] == "GetTask"
    assert format(ok.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert not_found.status.status_code == StatusCode.UNSET  # the caller's mistake, not ours
    assert internal.status.status_code == StatusCode.ERROR
    assert internal.attributes["rpc.grpc.status_code"] == "INTERNAL"


def test_with_tracing_on_a_task_stores_the_current_span_or_a_fresh_root(spans: InMemorySpanExporter) -> None:
    with tracing.server_span("/distill.v1.Pipeline/CreateTask", (("traceparent", TP),)) as sp:
        carrier = tracing.task_carrier((("traceparent", TP),))
    assert tracing.parse_traceparent(carrier["traceparent"])[1] == format(sp.get_span_context().span_id, "016x")
    # The HTTP side calls the servicer without a server span: a short CreateTask span is the root.
    carrier = tracing.task_carrier((("traceparent", TP),))
    root = next(s for s in spans.get_finished_spans() if s.name == "CreateTask")
    assert tracing.parse_traceparent(carrier["traceparent"])[:2] == (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        format(root.context.span_id, "016x"),
    )


def test_log_lines_inside_a_span_get_its_ids(spans: InMemorySpanExporter) -> None:
    with tracing.server_span("/x.Y/Z", (("traceparent", TP),)):
        event = tracing.log_processor(None, "info", {"event": "hi", "trace_id": None})
    assert event["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736" and len(event["span_id"]) == 16
    assert "trace_id" not in tracing.log_processor(None, "info", {"event": "outside"})


async def _echo(request: bytes, context: Any) -> bytes:
    return request


async def test_a_real_server_traces_its_rpcs_but_not_health_checks(spans: InMemorySpanExporter) -> None:
    import grpc
    from distill_core.grpc_server import GrpcServer
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    echo = grpc.method_handlers_generic_handler("test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(_echo)})
    add = lambda _, s: s.add_generic_rpc_handlers((echo,))  # noqa: E731
    server = GrpcServer("127.0.0.1", 0, services=[(add, None, "test.Echo")])
    await server.start()
    await server.set_serving(True)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            assert await ch.unary_unary("/test.Echo/Say")(b"hi", metadata=(("traceparent", TP),)) == b"hi"
    finally:
        await server.stop(0)
    [say] = spans.get_finished_spans()
    assert say.name == "test.Echo/Say" and say.attributes["rpc.grpc.status_code"] == "OK"
    assert format(say.parent.span_id, "016x") == "00f067aa0ba902b7"
