"""Queue and worker gauges for Prometheus, read from JetStream and PostgreSQL.

Every DISTILL_QUEUE_METRICS_INTERVAL seconds the gateway reads what GetQueueStats and
ListWorkers show (nine consumer infos, at most nine first-message lookups, one scan of
the worker heartbeats, one grouped count of dead letters) and sets:

    distill_queue_pending_jobs{stage,priority}      not yet delivered
    distill_queue_ack_pending_jobs{stage,priority}  delivered, not yet acknowledged
    distill_queue_redelivered_jobs{stage,priority}  delivered more than once
    distill_queue_oldest_age_seconds{stage,priority}
    distill_stage_workers{stage}                    0 for a stage with none
    distill_dead_letters_stored{stage}

Every gateway replica reports the same values: aggregate with max(), not sum(). A round
that fails (NATS or PostgreSQL away) leaves the last values and counts
distill_queue_metrics_errors_total{source}.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

from distill.v1 import admin_pb2
from distill_core import metrics, subjects
from distill_core.logging import get_logger
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from distill_gateway import deadletters, fleet

log = get_logger(__name__)


def lane_gauges(lane: admin_pb2.LaneStats) -> tuple[tuple[str, str], dict[str, float]]:
    """((stage, priority), gauge values) of one lane as GetQueueStats reports it."""
    key = (subjects.STAGE_NAME.get(lane.stage, "unknown"), subjects.PRIORITY_NAME.get(lane.priority, "normal"))
    age = lane.oldest_age.seconds + lane.oldest_age.nanos / 1e9 if lane.HasField("oldest_age") else 0.0
    return key, {
        "pending": float(lane.pending),
        "ack_pending": float(lane.ack_pending),
        "redelivered": float(lane.redelivered),
        "oldest_age": age,
    }


def workers_per_stage(workers: Iterable[admin_pb2.Worker]) -> dict[str, int]:
    """Live workers by stage name, every stage present (0 when none: the alert needs the zero)."""
    counts = dict.fromkeys(subjects.STAGES, 0)
    for w in workers:
        name = subjects.STAGE_NAME.get(w.stage)
        if name in counts:
            counts[name] += 1
    return counts


def dead_letters_per_stage(stored: Mapping[str, int]) -> dict[str, int]:
    return {stage: int(stored.get(stage, 0)) for stage in subjects.STAGES}


_LANE_GAUGES = {
    "pending": metrics.QUEUE_PENDING,
    "ack_pending": metrics.QUEUE_ACK_PENDING,
    "redelivered": metrics.QUEUE_REDELIVERED,
    "oldest_age": metrics.QUEUE_OLDEST_AGE,
}


async def _lanes(js: JetStreamContext) -> None:
    for lane in await fleet.lane_stats(js):
        key, values = lane_gauges(lane)
        for name, value in values.items():
            _LANE_GAUGES[name].labels(*key).set(value)


async def _workers(js: JetStreamContext, ttl: float) -> None:
    workers = fleet.live_workers(await fleet.heartbeats(js), ttl=ttl, now=time.time())
    for stage, n in workers_per_stage(workers).items():
        metrics.STAGE_WORKERS.labels(stage).set(n)


async def _dead_letters(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        stored = await deadletters.count_by_stage(conn)
    for stage, n in dead_letters_per_stage(stored).items():
        metrics.DEAD_LETTERS_STORED.labels(stage).set(n)


async def collect_once(js: JetStreamContext, engine: AsyncEngine, ttl: float) -> bool:
    """One round; True when every source answered."""
    ok = True
    sources: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("jetstream", lambda: _lanes(js)),
        ("workers", lambda: _workers(js, ttl)),
        ("database", lambda: _dead_letters(engine)),
    ]
    for source, work in sources:
        try:
            await asyncio.wait_for(work(), timeout=10)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            ok = False
            metrics.QUEUE_SCRAPE_ERRORS.labels(source).inc()
            log.warning("queue gauges not read", source=source, error=str(e)[:200])
    return ok


async def collect_forever(js: JetStreamContext, engine: AsyncEngine, ttl: float, interval: float) -> None:
    while True:
        await collect_once(js, engine, ttl)
        await asyncio.sleep(interval)
