"""Works the delivery queue: each delivery its own task, retried with back-off, never blocking the rest.

At most `notifier_concurrency` deliveries are in flight, and at most
`notifier_per_destination` to one destination: a webhook that hangs until the timeout
holds its own few slots while every other destination goes on at full speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from distill_core.logging import get_logger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from distill_notifier import metrics, queue
from distill_notifier.queue import Claimed
from distill_notifier.settings import NotifierSettings
from distill_notifier.transport import Outcome

log = get_logger("notifier.dispatch")


class Sender(Protocol):
    kind: str

    async def send(self, dest: Mapping[str, Any], d: Claimed) -> Outcome: ...


def backoff(settings: NotifierSettings, attempts: int, rng: random.Random | None = None) -> float:
    """Delay before the next attempt after `attempts` attempts (the last configured delay repeats)."""
    delays = settings.notifier_backoff
    base = delays[min(max(attempts, 1), len(delays)) - 1]
    jitter = settings.notifier_backoff_jitter
    return max(0.0, base * (1 + (rng or random).uniform(-jitter, jitter)))


def next_step(settings: NotifierSettings, d: Claimed, out: Outcome, now: datetime) -> tuple[str, float]:
    """What to do after an attempt: ("delivered"|"gone"|"retry"|"hold"|"fail", delay seconds)."""
    if out.ok:
        return "delivered", 0.0
    if out.gone:
        return "gone", 0.0
    expired = (now - d.created_at).total_seconds() >= settings.notifier_expire_after
    if not out.retry or expired:
        return "fail", 0.0
    if out.rate_limited:  # a Retry-After wait does not use an attempt
        return "hold", out.retry_after if out.retry_after is not None else backoff(settings, d.attempts)
    if d.attempts >= settings.notifier_max_attempts:
        return "fail", 0.0
    return "retry", max(backoff(settings, d.attempts), out.retry_after or 0.0)


class Dispatcher:
    def __init__(self, settings: NotifierSettings, engine: AsyncEngine, senders: Mapping[str, Sender]) -> None:
        self.s = settings
        self.engine = engine
        self.senders = senders
        self.wake = asyncio.Event()
        self.in_flight: set[asyncio.Task[None]] = set()
        self.busy: Counter[uuid.UUID] = Counter()
        self._done: list[uuid.UUID] = []
        self._flushing = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._step(stop)
            except Exception as e:  # the database is away: keep trying, nothing is lost
                log.warning("delivery queue unavailable", error=str(e)[:300])
                await _wait_any(stop.wait(), timeout=1.0)
        await self.drain()

    async def _step(self, stop: asyncio.Event) -> None:
        """Start what is due, or wait: for a free slot, for new work, or for the next retry."""
        free = self.s.notifier_concurrency - len(self.in_flight)
        if free <= 0:
            await _wait_any(stop.wait(), *self.in_flight, timeout=self.s.notifier_poll_interval)
            return
        self.wake.clear()
        async with self.engine.begin() as conn:
            claimed = await queue.claim(conn, free, self.s.notifier_per_destination, dict(self.busy), self.s.lease)
            dests = await _targets(conn, claimed) if claimed else {}
        for d in claimed:
            self._start(d, dests.get(d.destination_id))
        if claimed:
            return
        async with self.engine.connect() as conn:
            due_in = await queue.seconds_to_next(conn)
        wait = self.s.notifier_poll_interval if due_in is None else min(due_in, self.s.notifier_poll_interval)
        if wait > 0:
            await _wait_any(stop.wait(), self.wake.wait(), timeout=wait)

    def _start(self, d: Claimed, dest: Mapping[str, Any] | None) -> None:
        self.busy[d.destination_id] += 1
        t = asyncio.create_task(self._deliver(d, dest))
        self.in_flight.add(t)
        t.add_done_callback(lambda t: self._finished(t, d.destination_id))

    def _finished(self, t: asyncio.Task[None], dest: uuid.UUID) -> None:
        self.in_flight.discard(t)
        self.busy[dest] -= 1
        if self.busy[dest] <= 0:
            del self.busy[dest]
        self.wake.set()

    async def _deliver(self, d: Claimed, dest: Mapping[str, Any] | None) -> None:
        if dest is None:
            async with self.engine.begin() as conn:
                await queue.drop_destination(conn, "", d.destination_id, "the destination was deleted")
            return
        sender = self.senders[d.kind]
        out = await sender.send(dest, d)
        metrics.ATTEMPT_SECONDS.labels(d.kind).observe(out.seconds)
        step, delay = next_step(self.s, d, out, datetime.now(UTC))
        metrics.ATTEMPTS.labels(d.kind, step).inc()
        ctx = {"delivery_id": str(d.id), "destination_id": str(d.destination_id), "event_id": d.event_id}
        try:
            await self._record(d, out, step, delay, ctx)
        except Exception as e:  # the lease runs out and the delivery is tried again
            log.warning("could not record a delivery attempt", error=str(e)[:300], **ctx)

    async def _record(self, d: Claimed, out: Outcome, step: str, delay: float, ctx: dict[str, str]) -> None:
        if step == "delivered":
            self._done.append(d.id)
            await self.flush()
            metrics.DELIVERY_LATENCY.labels(d.kind).observe((datetime.now(UTC) - d.created_at).total_seconds())
            log.debug("delivered", kind=d.kind, attempt=d.attempts, **ctx)
            return
        async with self.engine.begin() as conn:
            if step == "gone":
                await queue.drop_destination(conn, d.kind, d.destination_id, f"{out.error}; subscription deleted")
                log.info("push subscription gone; deleted", status=out.status, **ctx)
            elif step in ("retry", "hold"):
                await queue.retry_later(conn, d.id, delay, out.error, refund=step == "hold")
                if step == "hold":
                    await queue.hold_destination(conn, d.destination_id, delay)
                log.info(
                    "delivery will be retried",
                    kind=d.kind,
                    attempt=d.attempts,
                    delay=round(delay, 2),
                    error=out.error,
                    **ctx,
                )
            else:
                why = out.error if not out.retry else f"gave up after {d.attempts} attempts: {out.error}"
                await queue.give_up(conn, d.id, why)
                log.warning("delivery failed", kind=d.kind, attempt=d.attempts, error=why, **ctx)

    async def flush(self) -> None:
        """Mark the finished deliveries delivered, many per statement."""
        async with self._flushing:
            ids, self._done = self._done, []
            if ids:
                async with self.engine.begin() as conn:
                    await queue.delivered(conn, ids)

    async def drain(self) -> None:
        """On stop: let what is in flight finish (bounded by the attempt timeout), then record it."""
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=self.s.notifier_timeout + 2)
        with contextlib.suppress(Exception):
            await self.flush()


async def _targets(conn: Any, claimed: list[Claimed]) -> dict[uuid.UUID, Mapping[str, Any]]:
    """Where each claimed delivery goes (secrets and keys are read only here, and never logged)."""
    by_kind: dict[str, list[uuid.UUID]] = {}
    for d in claimed:
        by_kind.setdefault(d.kind, []).append(d.destination_id)
    out: dict[uuid.UUID, Mapping[str, Any]] = {}
    if by_kind.get("webhook"):
        rows = await conn.execute(
            text("SELECT id, url, secret FROM webhooks WHERE id = ANY(:ids)"), {"ids": by_kind["webhook"]}
        )
        out.update({r.id: dict(r._mapping) for r in rows})
    if by_kind.get("push"):
        rows = await conn.execute(
            text("SELECT id, endpoint, p256dh, auth FROM push_subscriptions WHERE id = ANY(:ids)"),
            {"ids": by_kind["push"]},
        )
        out.update({r.id: dict(r._mapping) for r in rows})
    return out


async def _wait_any(*aws: Any, timeout: float) -> None:
    """Wait until any of `aws` finishes or `timeout` passes; cancel the waits it created."""
    tasks = [a if isinstance(a, asyncio.Future) else asyncio.ensure_future(a) for a in aws]
    own = [t for t, a in zip(tasks, aws, strict=True) if t is not a]
    try:
        await asyncio.wait(tasks, timeout=max(0.0, timeout), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in own:
            t.cancel()
