"""The notifier's Prometheus metrics (labels: kind of destination and outcome only)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS = Counter("distill_notifier_events_total", "Events read from the EVENTS stream.")
RECORDED = Counter("distill_notifier_deliveries_recorded_total", "Deliveries recorded (one per destination and event).")
ATTEMPTS = Counter(
    "distill_notifier_attempts_total",
    "Delivery attempts by kind (webhook, push) and what followed (delivered, retry, hold, gone, fail).",
    ["kind", "outcome"],
)
ATTEMPT_SECONDS = Histogram(
    "distill_notifier_attempt_seconds",
    "Time one delivery attempt took.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DELIVERY_LATENCY = Histogram(
    "distill_notifier_delivery_latency_seconds",
    "From recording a notification to its successful delivery (retries included).",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
