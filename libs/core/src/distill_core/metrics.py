"""Prometheus metrics shared by every service (names follow Prometheus conventions).

Labels are low-cardinality only: stage, priority, error code, method, outcome. Never a
URL, task id or item id.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

STAGE_ITEMS = Counter(
    "distill_stage_items_total", "Items a stage finished an attempt on, by outcome.", ["stage", "outcome"]
)
STAGE_FAILURES = Counter(
    "distill_stage_failures_total", "Failed attempts by error code (retried or final).", ["stage", "code", "final"]
)
STAGE_STARTED = Counter("distill_stage_started_total", "Attempts started.", ["stage", "priority"])
STAGE_DURATION = Histogram(
    "distill_stage_duration_seconds",
    "Time a stage spent on one attempt.",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
STAGE_IN_FLIGHT = Gauge("distill_stage_in_flight", "Attempts running now.", ["stage"])
STAGE_RETRIES = Counter("distill_stage_retries_total", "Attempts scheduled again (nak with delay).", ["stage"])
DEAD_LETTERS = Counter("distill_dead_letters_total", "Jobs dead-lettered.", ["stage", "code"])
REDELIVERED_DONE = Counter(
    "distill_stage_redelivered_done_total", "Redelivered jobs whose result was already stored.", ["stage"]
)
BATCH_SIZE = Histogram(
    "distill_runner_batch_size",
    "Jobs per database batch.",
    ["stage", "step"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)


def serve(port: int) -> int:
    """Serve /metrics on `port` (0: none). Returns the port."""
    if port:
        start_http_server(port)
    return port


@lru_cache(maxsize=4096)
def child(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, cached: the hot path asks for the same few children."""
    return metric.labels(*labels)
