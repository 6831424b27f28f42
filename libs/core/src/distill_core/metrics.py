"""Prometheus metrics shared by every service (names follow Prometheus conventions).

Labels are low-cardinality only: stage, priority, error code, method, outcome. Never a
URL, task id or item id. docs/observability.md lists them all; the Grafana dashboard and
the alert rules in deploy/kubernetes/components/monitoring use only these (a test checks).

* stage runner (parser, ai, notion): distill_stage_*, distill_dead_letters_total,
  distill_runner_batch_size;
* every gRPC server (grpc_server.py): grpc_server_* by service, method and code, the names
  of go-grpc-prometheus, so existing gRPC dashboards work;
* the gateway (queue_gauges.py, read from JetStream and the worker heartbeats every
  DISTILL_QUEUE_METRICS_INTERVAL seconds): distill_queue_*, distill_stage_workers,
  distill_dead_letters_stored;
* the notifier: distill_notifier_* (distill_notifier/metrics.py).
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

# --- gRPC servers (labels: grpc_type, grpc_service, grpc_method[, grpc_code]) --------------
RPC_LABELS = ["grpc_type", "grpc_service", "grpc_method"]
RPC_STARTED = Counter("grpc_server_started_total", "RPCs started on the server.", RPC_LABELS)
RPC_HANDLED = Counter(
    "grpc_server_handled_total", "RPCs completed on the server, by status code.", [*RPC_LABELS, "grpc_code"]
)
RPC_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from the start of an RPC to its end (for streams: the whole stream).",
    RPC_LABELS,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RPC_MSG_SENT = Counter("grpc_server_msg_sent_total", "Messages the server sent on streams.", RPC_LABELS)

# --- queues and workers, from JetStream (the gateway reads them periodically) --------------
QUEUE_PENDING = Gauge(
    "distill_queue_pending_jobs", "Jobs waiting in a lane, not yet delivered to a worker.", ["stage", "priority"]
)
QUEUE_ACK_PENDING = Gauge(
    "distill_queue_ack_pending_jobs", "Jobs delivered to a worker and not yet acknowledged.", ["stage", "priority"]
)
QUEUE_REDELIVERED = Gauge(
    "distill_queue_redelivered_jobs", "Jobs in a lane delivered more than once, now.", ["stage", "priority"]
)
QUEUE_OLDEST_AGE = Gauge(
    "distill_queue_oldest_age_seconds", "Age of the oldest job in a lane (0 when empty).", ["stage", "priority"]
)
STAGE_WORKERS = Gauge("distill_stage_workers", "Live workers of a stage (heartbeat within the TTL).", ["stage"])
DEAD_LETTERS_STORED = Gauge(
    "distill_dead_letters_stored", "Dead-letter records kept (not replayed or purged yet).", ["stage"]
)
QUEUE_SCRAPE_ERRORS = Counter(
    "distill_queue_metrics_errors_total", "Rounds of reading the queue gauges that failed.", ["source"]
)


def serve(port: int, addr: str = "0.0.0.0") -> int:
    """Serve /metrics on `addr:port` (port 0: none). Returns the port."""
    if port:
        start_http_server(port, addr=addr)
    return port


@lru_cache(maxsize=4096)
def child(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, cached: the hot path asks for the same few children."""
    return metric.labels(*labels)
