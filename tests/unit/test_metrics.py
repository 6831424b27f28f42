"""Prometheus metrics: names and labels follow the conventions, the queue gauges' pure parts,
and the gRPC telemetry on a real in-process server (health: every service has it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import distill_notifier.metrics
import grpc
import pytest
from distill.v1 import admin_pb2, common_pb2
from distill_core import grpc_telemetry, metrics
from distill_core.grpc_server import GrpcServer
from distill_gateway import queue_gauges
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

# Labels that would make one series per item, URL or tenant.
FORBIDDEN_LABELS = {"url", "task_id", "item_id", "tenant_id", "tenant", "id", "input", "host", "worker", "key"}


def families() -> list[object]:
    return [m for m in REGISTRY.collect() if m.name.startswith(("distill_", "grpc_server_"))]


def test_every_metric_follows_the_naming_conventions() -> None:
    found = families()
    assert len(found) >= 25, [m.name for m in found]
    for m in found:
        assert m.documentation.strip(), f"{m.name} has no help text"
        if m.type == "counter":
            assert not m.name.endswith("_total"), m.name  # the client adds _total to the samples
        if m.type == "histogram" and ("duration" in m.name or "seconds" in m.name or "latency" in m.name):
            assert m.name.endswith("_seconds"), f"{m.name}: a time is in seconds, named so"
        assert m.type != "gauge" or not m.name.endswith("_total"), m.name


def test_no_metric_has_a_high_cardinality_label() -> None:
    collectors = [v for v in vars(metrics).values() if hasattr(v, "_labelnames")]
    collectors += [v for v in vars(distill_notifier.metrics).values() if hasattr(v, "_labelnames")]
    for c in collectors:
        assert not FORBIDDEN_LABELS & set(c._labelnames), (c._name, c._labelnames)


def test_lane_gauges_from_queue_stats() -> None:
    lane = admin_pb2.LaneStats(
        stage=common_pb2.STAGE_AI, priority=common_pb2.PRIORITY_HIGH, pending=7, ack_pending=2, redelivered=1
    )
    lane.oldest_age.FromMilliseconds(1500)
    assert queue_gauges.lane_gauges(lane) == (
        ("ai", "high"),
        {"pending": 7.0, "ack_pending": 2.0, "redelivered": 1.0, "oldest_age": 1.5},
    )
    empty = admin_pb2.LaneStats(stage=common_pb2.STAGE_PARSE, priority=common_pb2.PRIORITY_LOW)
    assert queue_gauges.lane_gauges(empty)[1]["oldest_age"] == 0.0


def test_every_stage_has_a_worker_count_zero_included() -> None:
    workers = [admin_pb2.Worker(name=f"p{i}", stage=common_pb2.STAGE_PARSE) for i in range(3)]
    workers.append(admin_pb2.Worker(name="n", stage=common_pb2.STAGE_NOTION))
    assert queue_gauges.workers_per_stage(workers) == {"parse": 3, "ai": 0, "notion": 1}
    assert queue_gauges.dead_letters_per_stage({"ai": 4, "report": 9}) == {"parse": 0, "ai": 4, "notion": 0}


@pytest.mark.parametrize(
    ("code", "want"),
    [(None, "OK"), (grpc.StatusCode.NOT_FOUND, "NOT_FOUND"), (14, "UNAVAILABLE"), (999, "OK"), ("x", "OK")],
)
def test_status_code_names(code: object, want: str) -> None:
    assert grpc_telemetry.code_name(code, "OK") == want


def test_method_names() -> None:
    assert grpc_telemetry.split_method("/distill.v1.Pipeline/CreateTask") == ("distill.v1.Pipeline", "CreateTask")


def _scrape() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    from prometheus_client import generate_latest

    return {
        (s.name, frozenset(s.labels.items())): s.value
        for f in text_string_to_metric_families(generate_latest(REGISTRY).decode())
        for s in f.samples
    }


def _get(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


async def _three(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    for i in range(3):
        yield bytes([i])


STREAM = grpc.method_handlers_generic_handler("test.Numbers", {"Three": grpc.unary_stream_rpc_method_handler(_three)})


async def test_rpcs_are_counted_by_method_and_code_on_a_real_server() -> None:
    server = GrpcServer(
        "127.0.0.1", 0, services=[(lambda _, srv: srv.add_generic_rpc_handlers((STREAM,)), None, "test.Numbers")]
    )
    await server.start()
    await server.set_serving(True)
    health = {"grpc_service": "grpc.health.v1.Health", "grpc_method": "Check", "grpc_type": "unary"}
    before = _scrape()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            for _ in range(3):
                await stub.Check(health_pb2.HealthCheckRequest())
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
            assert e.value.code() == grpc.StatusCode.NOT_FOUND
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await ch.unary_unary("/no.such.Service/Nothing")(b"")
            assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
            got = [m async for m in ch.unary_stream("/test.Numbers/Three")(b"")]
            assert got == [b"\x00", b"\x01", b"\x02"]
    finally:
        await server.stop(0)
    after = _scrape()

    def delta(name: str, **labels: str) -> float:
        return _get(after, name, **labels) - _get(before, name, **labels)

    assert delta("grpc_server_started_total", **health) == 4
    assert delta("grpc_server_handled_total", grpc_code="OK", **health) == 3
    assert delta("grpc_server_handled_total", grpc_code="NOT_FOUND", **health) == 1
    assert delta("grpc_server_handling_seconds_count", **health) == 4
    assert not any("no.such" in v for _, ls in after for _, v in ls)  # unknown methods make no label
    stream = {"grpc_service": "test.Numbers", "grpc_method": "Three", "grpc_type": "server_stream"}
    assert delta("grpc_server_msg_sent_total", **stream) == 3
    assert delta("grpc_server_handled_total", grpc_code="OK", **stream) == 1
