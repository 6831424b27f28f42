"""GetStatistics: counts, success rates and AI usage of one tenant over a time window."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from distill.v1 import admin_pb2, common_pb2
from distill_core import convert
from distill_core.errors import InvalidInput
from distill_core.subjects import STAGE_ENUM, STAGES
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

DEFAULT_WINDOW = 24 * 3600.0
MAX_WINDOW = 366 * 24 * 3600.0
INT32_MAX = 2**31 - 1

_ITEMS = text("""
SELECT (SELECT count(*) FROM tasks WHERE tenant_id = :tenant AND created_at >= :since) AS tasks_created,
       count(*) AS created,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM items WHERE tenant_id = :tenant AND created_at >= :since
""")

_ITEM_FAILURES = text("""
SELECT COALESCE(error->>'code', 'UNKNOWN') AS code, count(*) AS n
FROM items WHERE tenant_id = :tenant AND created_at >= :since AND status = 'failed'
GROUP BY 1
""")

_STAGES = text("""
SELECT stage,
       count(*) FILTER (WHERE started_at >= :since) AS started,
       count(*) FILTER (WHERE status = 'succeeded' AND finished_at >= :since) AS succeeded,
       count(*) FILTER (WHERE status = 'failed' AND finished_at >= :since) AS failed,
       count(*) FILTER (WHERE status = 'cancelled' AND finished_at >= :since) AS cancelled,
       avg(duration_ms) FILTER (WHERE status = 'succeeded' AND finished_at >= :since) AS mean_ms
FROM phases WHERE tenant_id = :tenant AND (started_at >= :since OR finished_at >= :since)
GROUP BY stage
""")

_STAGE_FAILURES = text("""
SELECT stage, COALESCE(error_code, 'UNKNOWN') AS code, count(*) AS n
FROM phases WHERE tenant_id = :tenant AND status = 'failed' AND finished_at >= :since
GROUP BY 1, 2
""")

_AI_USAGE = text("""
SELECT COALESCE(sum((usage->>'prompt_tokens')::numeric), 0) AS prompt_tokens,
       COALESCE(sum((usage->>'completion_tokens')::numeric), 0) AS completion_tokens,
       COALESCE(sum((usage->>'requests')::numeric), 0) AS requests,
       COALESCE(sum((usage->>'latency_ms')::numeric), 0) AS latency_ms
FROM ai_outputs WHERE tenant_id = :tenant AND created_at >= :since
""")


def window_seconds(window: Duration, is_set: bool) -> float:
    """The look-back in seconds: 24 h when unset or zero; an error when negative or over a year."""
    seconds = window.ToMicroseconds() / 1e6 if is_set else 0.0
    if seconds < 0:
        raise InvalidInput(f"window must not be negative (got {seconds:g} s)")
    if seconds > MAX_WINDOW:
        raise InvalidInput(f"window {seconds:g} s is over the limit of {MAX_WINDOW:g} s (366 days)")
    return seconds or DEFAULT_WINDOW


def rate(succeeded: int, failed: int) -> float:
    """succeeded / (succeeded + failed); 0 when nothing finished."""
    done = succeeded + failed
    return succeeded / done if done else 0.0


def _clamp(v: Any) -> int:
    return min(int(v or 0), INT32_MAX)


def stage_statistics(rows: list[dict[str, Any]], failures: list[dict[str, Any]]) -> list[admin_pb2.StageStatistics]:
    """One entry per stage, in pipeline order, stages with no activity included."""
    by_code: dict[str, dict[str, int]] = defaultdict(dict)
    for f in failures:
        by_code[f["stage"]][f["code"]] = int(f["n"])
    seen = {r["stage"]: r for r in rows}
    out = []
    for stage in STAGES:
        r = seen.get(stage, {})
        ok, bad = int(r.get("succeeded") or 0), int(r.get("failed") or 0)
        out.append(
            admin_pb2.StageStatistics(
                stage=STAGE_ENUM[stage],  # type: ignore[arg-type]
                started=int(r.get("started") or 0),
                succeeded=ok,
                failed=bad,
                cancelled=int(r.get("cancelled") or 0),
                success_rate=rate(ok, bad),
                failures_by_code=by_code.get(stage, {}),
                mean_duration_seconds=float(r.get("mean_ms") or 0) / 1000.0,
            )
        )
    return out


async def statistics(conn: AsyncConnection, tenant: str, since: datetime, until: datetime) -> admin_pb2.Statistics:
    p = {"tenant": tenant, "since": since}
    items = dict((await conn.execute(_ITEMS, p)).one()._mapping)
    item_failures = {r.code: int(r.n) for r in await conn.execute(_ITEM_FAILURES, p)}
    stages = [dict(r._mapping) for r in await conn.execute(_STAGES, p)]
    stage_failures = [dict(r._mapping) for r in await conn.execute(_STAGE_FAILURES, p)]
    usage = dict((await conn.execute(_AI_USAGE, p)).one()._mapping)
    ok, bad = int(items["succeeded"]), int(items["failed"])
    return admin_pb2.Statistics(
        start_time=convert.ts(since),
        end_time=convert.ts(until),
        tasks_created=int(items["tasks_created"]),
        items_created=int(items["created"]),
        items_succeeded=ok,
        items_failed=bad,
        items_cancelled=int(items["cancelled"]),
        success_rate=rate(ok, bad),
        failures_by_code=item_failures,
        stages=stage_statistics(stages, stage_failures),
        ai_usage=common_pb2.AiUsage(
            prompt_tokens=_clamp(usage["prompt_tokens"]),
            completion_tokens=_clamp(usage["completion_tokens"]),
            requests=_clamp(usage["requests"]),
            latency_ms=int(usage["latency_ms"] or 0),
        ),
    )
