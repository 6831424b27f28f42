"""Worker heartbeats as the Admin API shows them (pure functions)."""

from __future__ import annotations

from distill.internal.v1 import jobs_pb2
from distill.v1 import admin_pb2, common_pb2
from distill_gateway.fleet import live_workers, worker_from_heartbeat


def beat(name: str, stage: int, last_seen: float, **kw: object) -> jobs_pb2.WorkerHeartbeat:
    hb = jobs_pb2.WorkerHeartbeat(name=name, stage=stage, **kw)  # type: ignore[arg-type]
    hb.last_seen_time.FromMicroseconds(int(last_seen * 1e6))
    hb.start_time.FromSeconds(int(last_seen) - 100)
    return hb


def test_every_heartbeat_field_reaches_the_worker() -> None:
    hb = beat(
        "parse-h-1",
        common_pb2.STAGE_PARSE,
        1000.0,
        host="h",
        pid=42,
        state=2,
        current_item_ids=["a", "b"],
        processed_count=7,
        failed_count=1,
        concurrency=16,
    )
    w = worker_from_heartbeat(hb)
    assert (w.name, w.stage, w.host, w.pid, w.state) == ("parse-h-1", 1, "h", 42, admin_pb2.WORKER_STATE_BUSY)
    assert list(w.current_item_ids) == ["a", "b"] and (w.processed_count, w.failed_count) == (7, 1)
    assert w.concurrency == 16 and w.start_time.seconds == 900 and w.last_seen_time.seconds == 1000
    # Every field of the heartbeat has a twin of the same number and name in Worker.
    hb_fields = {(f.number, f.name) for f in jobs_pb2.WorkerHeartbeat.DESCRIPTOR.fields}
    assert hb_fields <= {(f.number, f.name) for f in admin_pb2.Worker.DESCRIPTOR.fields}


def test_workers_silent_for_longer_than_the_ttl_are_gone() -> None:
    beats = [
        beat("ai-1", common_pb2.STAGE_AI, 990.0),
        beat("parse-2", common_pb2.STAGE_PARSE, 999.0),
        beat("parse-1", common_pb2.STAGE_PARSE, 985.1),
        beat("notion-1", common_pb2.STAGE_NOTION, 984.9),  # 15.1 s ago
    ]
    names = [w.name for w in live_workers(beats, ttl=15, now=1000.0)]
    assert names == ["parse-1", "parse-2", "ai-1"]
    assert [w.name for w in live_workers(beats, ttl=15, now=1000.0, stage=common_pb2.STAGE_PARSE)] == [
        "parse-1",
        "parse-2",
    ]
    assert live_workers(beats, ttl=15, now=2000.0) == []
