"""One request rate per integration token, shared by every replica, kept in PostgreSQL.

Notion allows an average of three requests per second per integration, with some
bursts. Each replica limiting itself is not enough (three replicas would send nine), so
the budget lives in one row of `rate_limits`, as a GCRA (generic cell rate algorithm)
"theoretical arrival time" `tat`:

    start = max(tat, now)          when this request's slot begins
    wait  = max(0, start - now - tau)   tau = (burst - 1) / rate: a burst may run ahead
    tat   = start + 1 / rate       the next slot

Each request reserves its slot in one short transaction (a row lock orders the
replicas; the database's clock is the only clock), then sleeps until the slot. A
request whose slot is more than `max_wait` away reserves nothing and raises
RateLimited(retry_after=...): the runner gives the job back for that long without
using an attempt. A 429 from Notion moves `tat` forward for everyone (`pause`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

from distill_core.errors import RateLimited
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_ENSURE = text("INSERT INTO rate_limits (key, tat) VALUES (:key, clock_timestamp()) ON CONFLICT (key) DO NOTHING")
_AHEAD = text(
    "SELECT greatest(0, extract(epoch FROM tat - clock_timestamp()))::float8 FROM rate_limits "
    "WHERE key = :key FOR UPDATE"
)
_RESERVE = text(
    "UPDATE rate_limits SET tat = greatest(tat, clock_timestamp()) + make_interval(secs => :t) WHERE key = :key"
)
_PAUSE = text(
    "UPDATE rate_limits SET tat = greatest(tat, clock_timestamp() + make_interval(secs => :s)) WHERE key = :key"
)


def token_key(token: str, prefix: str = "notion") -> str:
    """The bucket's key: a digest of the token (the token itself is never stored)."""
    return f"{prefix}:{hashlib.sha256(token.encode()).hexdigest()[:32]}"


class SharedRateLimiter:
    """`rate` requests a second for `key`, across every process using the same database."""

    def __init__(
        self,
        engine: AsyncEngine,
        key: str,
        rate: float,
        *,
        burst: int = 1,
        max_wait: float = 20.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.engine = engine
        self.key = key
        self.interval = 1.0 / rate
        self.tau = (max(1, burst) - 1) * self.interval
        self.max_wait = max_wait
        self.sleep = sleep
        self.waited = 0.0  # seconds spent waiting in this process (metrics, tests)
        self.requests = 0

    async def _reserve(self) -> float:
        async with self.engine.begin() as conn:
            ahead = (await conn.execute(_AHEAD, {"key": self.key})).scalar()
            if ahead is None:
                await conn.execute(_ENSURE, {"key": self.key})
                ahead = (await conn.execute(_AHEAD, {"key": self.key})).scalar() or 0.0
            wait = max(0.0, float(ahead) - self.tau)
            if wait > self.max_wait:
                raise RateLimited(
                    f"the Notion request budget is taken for the next {wait:.0f} s", retry_after=round(wait, 1)
                )
            await conn.execute(_RESERVE, {"key": self.key, "t": self.interval})
        return wait

    async def acquire(self) -> float:
        """Wait for this request's slot; returns the seconds waited."""
        wait = await self._reserve()
        self.requests += 1
        if wait > 0:
            self.waited += wait
            await self.sleep(wait)
        return wait

    async def pause(self, seconds: float) -> None:
        """Nobody sends for `seconds` (Notion answered 429 with Retry-After)."""
        async with self.engine.begin() as conn:
            await conn.execute(_ENSURE, {"key": self.key})
            await conn.execute(_PAUSE, {"key": self.key, "s": float(seconds) + self.tau})


class LocalRateLimiter:
    """The same contract within one process (tests, tools): no database."""

    def __init__(
        self, rate: float, *, burst: int = 1, max_wait: float = 20.0, clock: Callable[[], float] | None = None
    ):
        import time

        self.clock = clock or time.monotonic
        self.interval = 1.0 / rate
        self.tau = (max(1, burst) - 1) * self.interval
        self.max_wait = max_wait
        self.tat = self.clock()
        self.waited = 0.0
        self.requests = 0

    async def acquire(self) -> float:
        now = self.clock()
        start = max(self.tat, now)
        wait = max(0.0, start - now - self.tau)
        if wait > self.max_wait:
            raise RateLimited(f"the Notion request budget is taken for the next {wait:.0f} s", retry_after=wait)
        self.tat = start + self.interval
        self.requests += 1
        if wait > 0:
            self.waited += wait
            await asyncio.sleep(wait)
        return wait

    async def pause(self, seconds: float) -> None:
        self.tat = max(self.tat, self.clock() + seconds + self.tau)
