"""The RQ baseline's three-stage chain: each job enqueues the next, the last counts."""

from __future__ import annotations

import os

from redis import Redis
from rq import Queue

_conn: Redis | None = None


def _redis() -> Redis:
    global _conn
    if _conn is None:
        _conn = Redis.from_url(os.environ["BENCH_REDIS_URL"])
    return _conn


def stage1(i: int) -> None:
    Queue("q2", connection=_redis()).enqueue(stage2, i)


def stage2(i: int) -> None:
    Queue("q3", connection=_redis()).enqueue(stage3, i)


def stage3(i: int) -> None:
    _redis().incr("bench:done")
