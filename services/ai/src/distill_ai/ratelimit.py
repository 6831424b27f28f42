"""Requests-per-minute and tokens-per-minute limits, shared by every request of a process.

Two token buckets refilled continuously (rpm/60 and tpm/60 per second) holding at most one
second of budget, so the rate stays smooth (vendors enforce their per-minute limits over
shorter windows too). A request waits until both buckets can pay for it; the token bucket
may go into debt for a request larger than its capacity, so big requests pass without
deadlock and the average still holds. After the request the estimate is corrected with
the tokens the server reported. A 429 pauses everyone (`pause`) for its Retry-After.

Waiting is first come, first served. A request that would wait longer than `max_wait`
is not kept waiting: RateLimited(retry_after=...) gives the job back to the queue for
that long, which does not use one of its attempts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from distill_core.errors import RateLimited


class Bucket:
    """A token bucket: `per_minute` units a minute, at most `burst_seconds` worth at once."""

    def __init__(self, per_minute: float, clock: Callable[[], float], burst_seconds: float = 1.0) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_seconds)
        self.level = self.capacity
        self.clock = clock
        self.at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
        self.at = now

    def wait_for(self, cost: float) -> float:
        """Seconds until the bucket can pay `cost` (a cost above capacity waits for a full bucket)."""
        self._refill()
        need = min(cost, self.capacity) - self.level
        return max(0.0, need / self.rate) if need > 0 else 0.0

    def take(self, cost: float) -> None:
        self._refill()
        self.level -= cost

    def give_back(self, amount: float) -> None:
        self._refill()
        self.level = min(self.capacity, self.level + amount)


class RateLimiter:
    """The limits of one provider endpoint; 0 means no limit of ours."""

    def __init__(
        self,
        rpm: int = 0,
        tpm: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.requests = Bucket(rpm, clock) if rpm > 0 else None
        self.tokens = Bucket(tpm, clock) if tpm > 0 else None
        self.paused_until = 0.0
        self._lock = asyncio.Lock()
        self.waited = 0.0  # seconds spent waiting, all requests together (for metrics and tests)

    def delay(self, tokens: int) -> float:
        """Seconds a request of `tokens` would wait now."""
        waits = [self.paused_until - self.clock()]
        if self.requests is not None:
            waits.append(self.requests.wait_for(1))
        if self.tokens is not None:
            waits.append(self.tokens.wait_for(tokens))
        return max(0.0, *waits)

    async def acquire(self, tokens: int, *, max_wait: float = float("inf")) -> float:
        """Wait for room for one request of about `tokens` tokens; returns the seconds waited."""
        async with self._lock:
            waited = 0.0
            while (d := self.delay(tokens)) > 0:
                if waited + d > max_wait:
                    raise RateLimited(
                        f"our own rate limit for this model needs a {waited + d:.0f} s wait",
                        retry_after=round(d + 0.5, 1),
                    )
                await self.sleep(d)
                waited += d
            if self.requests is not None:
                self.requests.take(1)
            if self.tokens is not None:
                self.tokens.take(tokens)
            self.waited += waited
            return waited

    def settle(self, estimated: int, actual: int) -> None:
        """Correct the token bucket once the server said what the request really cost."""
        if self.tokens is None or actual <= 0:
            return
        if actual > estimated:
            self.tokens.take(actual - estimated)
        else:
            self.tokens.give_back(estimated - actual)

    def pause(self, seconds: float) -> None:
        """Nobody sends for `seconds` (the server answered 429 with Retry-After)."""
        self.paused_until = max(self.paused_until, self.clock() + max(0.0, seconds))


_LIMITERS: dict[tuple[str, str], RateLimiter] = {}


def shared(base_url: str, model: str, rpm: int, tpm: int) -> RateLimiter:
    """The process-wide limiter of one endpoint and model (created with the first limits given)."""
    key = (base_url.rstrip("/"), model)
    if key not in _LIMITERS:
        _LIMITERS[key] = RateLimiter(rpm, tpm)
    return _LIMITERS[key]
