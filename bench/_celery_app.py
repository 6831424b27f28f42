"""The Celery baseline: a chain of three tasks over a Redis broker, one queue per stage."""

from __future__ import annotations

import os

from celery import Celery
from redis import Redis

app = Celery("bench", broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_routes={
        "bench._celery_app.s1": {"queue": "q1"},
        "bench._celery_app.s2": {"queue": "q2"},
        "bench._celery_app.s3": {"queue": "q3"},
    },
    task_ignore_result=True,
    worker_prefetch_multiplier=64,
    broker_connection_retry_on_startup=True,
)
_conn: Redis | None = None


@app.task
def s1(i: int) -> int:
    return i


@app.task
def s2(i: int) -> int:
    return i


@app.task
def s3(i: int) -> None:
    global _conn
    if _conn is None:
        _conn = Redis.from_url(os.environ["BENCH_REDIS_URL"])
    _conn.incr("bench:done")
