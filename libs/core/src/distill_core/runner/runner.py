"""The one stage runner every stage uses.

A stage supplies `handle(ctx) -> StageResult` (and optionally `persist`, to store its
results in the same transaction as the state change). The runner does the rest:

    lanes (high, normal, low) --fetch--> start queue --claim (1 txn/batch)--> handle()
        --> completion queue --commit (1 txn/batch)--> publish next jobs + events --> ack

Batching happens by itself: a single starter and a single completer each take whatever
has queued up since their last round trip, so under load one statement covers many
items, and when idle a lone item goes through at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from distill.internal.v1 import jobs_pb2
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from distill_core import errors, failpoints, metrics, subjects, tracing
from distill_core import nats as dnats
from distill_core.db.session import is_unavailable
from distill_core.errors import DistillError
from distill_core.events import OutMsg, publish_all
from distill_core.logging import get_logger
from distill_core.runner import events as rev
from distill_core.runner import store
from distill_core.runner.context import JobContext, StageResult
from distill_core.runner.slots import PrioritySlots
from distill_core.settings import Settings, StageSettings
from distill_core.status import Counts, rollup

log = get_logger(__name__)


class Stage(Protocol):
    """What a stage supplies to the runner."""

    name: str

    async def start(self, runner: StageRunner) -> None: ...

    async def handle(self, ctx: JobContext) -> StageResult: ...

    async def prepare(self, conn: AsyncConnection, items: list[dict[str, Any]]) -> None: ...

    async def persist(self, conn: AsyncConnection, done: list[tuple[JobContext, StageResult]]) -> None: ...

    async def stop(self) -> None: ...


class BaseStage:
    """Defaults for the optional parts of a stage."""

    name = "stage"

    async def start(self, runner: StageRunner) -> None:
        return None

    async def prepare(self, conn: AsyncConnection, items: list[dict[str, Any]]) -> None:
        """Read what the claimed jobs need, for the whole batch at once (one query instead of
        one per job): add it to each item's row, which handle() sees as `ctx.item`."""
        return None

    async def persist(self, conn: AsyncConnection, done: list[tuple[JobContext, StageResult]]) -> None:
        return None

    async def stop(self) -> None:
        return None


# --- outcomes of one attempt -------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    ctx: JobContext
    kind: str  # "done" | "retry" | "fail" | "cancelled" | "released"
    result: StageResult | None = None
    error: DistillError | None = None
    delay: float = 0.0
    refund: bool = False
    recorded: asyncio.Event = field(default_factory=asyncio.Event)  # set once committed and settled


def backoff_delay(st: StageSettings, attempt: int, rng: random.Random = random._inst) -> float:  # type: ignore[attr-defined]
    """Delay before the attempt after `attempt` (1-based), with jitter."""
    if not st.backoff:
        return 0.0
    base = st.backoff[min(attempt - 1, len(st.backoff) - 1)]
    j = st.backoff_jitter
    return max(0.0, base * (1 + rng.uniform(-j, j)))


# Progress reports of one attempt closer together than this are dropped (100 % excepted).
PROGRESS_INTERVAL = 0.5

# Attempts running now in this process, per stage: the distill_stage_in_flight gauge reads
# it when scraped (a counter in Python instead of two locked gauge updates per attempt).
_IN_FLIGHT: dict[str, int] = {}


def _track_in_flight(stage: str) -> None:
    if stage not in _IN_FLIGHT:
        _IN_FLIGHT[stage] = 0
        metrics.child(metrics.STAGE_IN_FLIGHT, stage).set_function(lambda: _IN_FLIGHT[stage])


class StageRunner:
    """Runs one stage: pulls its jobs from JetStream, calls the stage, records and hands off."""

    poll_seconds = 2.0
    max_db_batch = 256

    def __init__(self, stage: Stage, settings: Settings, *, name: str | None = None) -> None:
        self.stage = stage
        self.settings = settings
        self.cfg: StageSettings = settings.stage(stage.name)
        _track_in_flight(stage.name)
        self.name = name or f"{stage.name}-{socket.gethostname()}-{os.getpid()}"
        self.slots = PrioritySlots(self.cfg.concurrency, levels=len(subjects.PRIORITIES))
        self.nc: NATS | None = None
        self.js: JetStreamContext | None = None
        self.engine: AsyncEngine | None = None
        self.ready = asyncio.Event()
        self.stopping = asyncio.Event()
        self.started_at = time.time()
        self.processed = 0
        self.failed = 0
        self._start_q: asyncio.Queue[tuple[Msg, int]] = asyncio.Queue()
        self._done_q: asyncio.Queue[Outcome] = asyncio.Queue()
        # Fetched and not yet acked or nak'd (by reply subject): kept alive by heart-beats.
        self._held: dict[str, Msg] = {}
        self._active: dict[str, JobContext] = {}  # item id -> running attempt
        self._by_task: dict[str, set[str]] = defaultdict(set)
        self._tasks: list[asyncio.Task[Any]] = []
        self._handlers: set[asyncio.Task[Any]] = set()
        self._ended_tasks: set[uuid.UUID] = set()

    # --- life cycle ----------------------------------------------------------------------

    async def start(self, *, nc: NATS | None = None, engine: AsyncEngine | None = None) -> None:
        from distill_core.db.session import make_engine, wait_for_database

        self.nc = nc or await dnats.connect(self.settings, self.name)
        self.js = dnats.jetstream(self.nc)
        self.engine = engine or make_engine(
            self.settings.database_url, pool_size=4, application_name=f"distill-{self.stage.name}"
        )
        await wait_for_database(self.engine)
        await dnats.ensure_topology(self.js, self.settings, stages=(self.stage.name,))
        await self.stage.start(self)
        subs = []
        for prio in subjects.PRIORITIES:
            subs.append(
                await self.js.pull_subscribe_bind(
                    durable=subjects.job_consumer(self.stage.name, prio), stream=subjects.JOBS_STREAM
                )
            )
        await self.nc.subscribe(subjects.CANCEL_SUBJECT, cb=self._on_cancel)
        advisories = await self.js.pull_subscribe_bind(
            durable=subjects.advisory_consumer(self.stage.name), stream=subjects.ADVISORIES_STREAM
        )
        subs.append(advisories)
        self._subs = subs
        for level, sub in enumerate(subs[: len(subjects.PRIORITIES)]):
            self._tasks.append(asyncio.create_task(self._lane(level, sub), name=f"lane-{level}"))
        self._tasks.append(asyncio.create_task(self._advisories(advisories), name="lane-advisories"))
        self._tasks.append(asyncio.create_task(self._starter(), name="starter"))
        self._tasks.append(asyncio.create_task(self._completer(), name="completer"))
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="heartbeat"))
        self._tasks.append(asyncio.create_task(self._announce(), name="announce"))
        for t in self._tasks:
            t.add_done_callback(self._task_died)
        self.ready.set()
        log.info("stage runner started", stage=self.stage.name, worker=self.name, concurrency=self.cfg.concurrency)

    async def stop(self, grace: float | None = None) -> None:
        """Stop fetching, let running attempts finish within `grace`, give back the rest."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        grace = min(self.cfg.timeout, 25.0) if grace is None else grace
        lanes = [t for t in self._tasks if t.get_name().startswith("lane-")]
        _, late = await asyncio.wait(lanes, timeout=self.poll_seconds + 5)
        for t in late:
            t.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        # Jobs fetched but not yet started go straight back.
        while not self._start_q.empty():
            msg, _ = self._start_q.get_nowait()
            await self._settle(msg, "nak")
            self.slots.release()
        if self._handlers:
            _, pending = await asyncio.wait(set(self._handlers), timeout=grace)
            for t in pending:
                ctx = getattr(t, "distill_ctx", None)
                if ctx is not None:
                    ctx.cancel_reason = "shutdown"
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        # Let the completer record what finished.
        deadline = time.monotonic() + 15
        while (not self._done_q.empty() or self._completing) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._forget()
        with contextlib.suppress(Exception):
            await self.stage.stop()
        for sub in getattr(self, "_subs", []):
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if self.nc is not None:
            await dnats.close(self.nc)
        if self.engine is not None:
            await self.engine.dispose()
        log.info("stage runner stopped", stage=self.stage.name, processed=self.processed, failed=self.failed)

    # --- fetching ------------------------------------------------------------------------

    async def _lane(self, level: int, sub: Any) -> None:
        """Pull one lane. On stop it finishes its current fetch instead of being cancelled:
        a cancelled fetch leaves a pull request on the server, which would swallow the
        jobs we give back while stopping."""
        delay = 0.1
        while not self.stopping.is_set():
            n = max(1, min(self.cfg.batch_size, self.slots.available(level)))
            try:
                msgs = await sub.fetch(n, timeout=self.poll_seconds)
            except (TimeoutError, NatsTimeout):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as e:  # connection trouble: back off and try again
                log.warning("fetch failed", stage=self.stage.name, error=str(e))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            self._held.update((m.reply, m) for m in msgs)
            for i, m in enumerate(msgs):
                if not await self._acquire_unless_stopping(level):
                    for rest in msgs[i:]:
                        await self._settle(rest, "nak")
                    return
                self._start_q.put_nowait((m, level))

    async def _acquire_unless_stopping(self, level: int) -> bool:
        if self.stopping.is_set():
            return False
        if self.slots.try_acquire(level):
            return True
        acquire = asyncio.ensure_future(self.slots.acquire(level))
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait({acquire, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if acquire.done() and not acquire.cancelled():
            if self.stopping.is_set():
                self.slots.release()
                return False
            return True
        acquire.cancel()
        return False

    # --- starting ------------------------------------------------------------------------

    async def _starter(self) -> None:
        while True:
            first = await self._start_q.get()
            batch = [first]
            while len(batch) < self.max_db_batch and not self._start_q.empty():
                batch.append(self._start_q.get_nowait())
            try:
                await self._start_batch([m for m, _ in batch])
            except Exception:
                log.exception("start batch failed", stage=self.stage.name)
                for m, _ in batch:
                    await self._settle(m, "nak", delay=2.0)
                    self.slots.release()

    async def _start_batch(self, msgs: list[Msg]) -> None:
        metrics.child(metrics.BATCH_SIZE, self.stage.name, "claim").observe(len(msgs))
        jobs: dict[str, tuple[Msg, jobs_pb2.Job]] = {}
        for m in msgs:
            try:
                job = jobs_pb2.Job.FromString(m.data)
                if not job.item_id or subjects.STAGE_NAME.get(job.stage) != self.stage.name:
                    raise ValueError(f"job for stage {job.stage} item {job.item_id!r}")
                uuid.UUID(job.item_id)
            except Exception as e:
                await self._dead_letter_raw(m, errors.InvalidInput(f"malformed job: {e}", code="MALFORMED_JOB"))
                self.slots.release()
                continue
            if job.item_id in jobs or job.item_id in self._active:  # same job twice in flight
                await self._settle(m, "ack")
                self.slots.release()
                continue
            jobs[job.item_id] = (m, job)
        if not jobs:
            return
        claimed, started_tasks, others = await self._with_db(self._claim_tx, jobs)
        out: list[OutMsg] = []
        contexts: list[JobContext] = []
        for row in claimed:
            m, job = jobs[str(row["id"])]
            ctx = JobContext(
                msg=m,
                job=job,
                stage=self.stage.name,
                item=row,
                attempt=int(row["attempts"]),
                _progress_cb=self._progress,
            )
            contexts.append(ctx)
            out.append(rev.phase_event(ctx, "running"))
        for t in started_tasks:
            out.append(rev.task_changed(t))
        handoffs, settle, missing = self._unclaimed(jobs, {str(r["id"]) for r in claimed}, others)
        await self._publish(out + handoffs)
        if self._ended_tasks:
            ended, self._ended_tasks = self._ended_tasks, set()
            await self._announce_ended(ended)
        for m, how in settle:
            await self._settle(m, how)
            self.slots.release()
        for m, job in missing:
            err = errors.NotFoundError(f"job names item {job.item_id}, which does not exist", code="MISSING_ITEM")
            await self._dead_letter_raw(m, err, job=job)
            self.slots.release()
        started_by_prio: dict[int, int] = defaultdict(int)
        for ctx in contexts:
            started_by_prio[ctx.job.priority] += 1
            self._spawn(ctx)
        for p, n in started_by_prio.items():
            metrics.child(metrics.STAGE_STARTED, self.stage.name, subjects.PRIORITY_NAME.get(p, "normal")).inc(n)

    async def _claim_tx(self, conn: AsyncConnection, jobs: dict[str, tuple[Msg, jobs_pb2.Job]]) -> Any:
        claimed = await store.claim(conn, self.stage.name, [(i, j.generation) for i, (_, j) in jobs.items()])
        if claimed and hasattr(self.stage, "prepare"):
            await self.stage.prepare(conn, claimed)
        # Only a task still queued needs starting (its first claim): not one statement per batch.
        queued = {r["task_id"] for r in claimed if r.pop("task_status", None) == "queued"}
        started = await store.start_tasks(conn, list(queued))
        got = {str(r["id"]) for r in claimed}
        others = await store.inspect(conn, self.stage.name, [i for i in jobs if i not in got])
        return claimed, started, others

    def _unclaimed(
        self, jobs: dict[str, tuple[Msg, jobs_pb2.Job]], claimed: set[str], others: dict[str, dict[str, Any]]
    ) -> tuple[list[OutMsg], list[tuple[Msg, str]], list[tuple[Msg, jobs_pb2.Job]]]:
        """Jobs whose item was not claimable: hand off again, drop, or (item missing) dead-letter.

        A job redelivered after its completion was committed (the worker died before
        publishing or acking) finds the stage done: what the completion would have
        published is published again (same ids, so JetStream and receivers drop copies).
        """
        again: list[OutMsg] = []
        settle: list[tuple[Msg, str]] = []
        missing: list[tuple[Msg, jobs_pb2.Job]] = []
        ended_tasks: set[uuid.UUID] = set()
        for item_id, (m, job) in jobs.items():
            if item_id in claimed:
                continue
            row = others.get(item_id)
            if row is None:
                missing.append((m, job))
                continue
            settle.append((m, "ack"))
            stages = list(row["stages"])
            here = stages.index(self.stage.name) if self.stage.name in stages else -1
            cur = stages.index(row["current_stage"]) if row["current_stage"] in stages else -1
            if row["generation"] != job.generation or here < 0 or row["phase_status"] not in ("succeeded", "failed"):
                continue  # a stale job, or nothing of ours to repeat
            ctx = JobContext(msg=m, job=job, stage=self.stage.name, item=row, attempt=int(row["attempts"] or 1))
            if row["status"] == "pending" and cur > here:
                metrics.child(metrics.REDELIVERED_DONE, self.stage.name).inc()
                again.append(rev.item_event(ctx, row, "succeeded"))
                again.append(rev.job_msg({**row, "trace": job.trace}, row["current_stage"]))
            elif row["status"] in ("succeeded", "failed") and cur == here:
                metrics.child(metrics.REDELIVERED_DONE, self.stage.name).inc()
                again.append(rev.item_event(ctx, row, row["phase_status"]))
                if row["task_finished_at"] is not None:
                    ended_tasks.add(row["task_id"])
        if ended_tasks:
            self._ended_tasks.update(ended_tasks)
        return again, settle, missing

    # --- running -------------------------------------------------------------------------

    def _spawn(self, ctx: JobContext) -> None:
        t = asyncio.create_task(self._run_one(ctx), name=f"{self.stage.name}:{ctx.item_id}")
        t.distill_ctx = ctx  # type: ignore[attr-defined]
        ctx.task = t
        self._active[ctx.item_id] = ctx
        self._by_task[ctx.task_id].add(ctx.item_id)
        self._handlers.add(t)
        t.add_done_callback(self._handlers.discard)

    async def _run_one(self, ctx: JobContext) -> None:
        structlog.contextvars.bind_contextvars(
            task_id=ctx.task_id,
            item_id=ctx.item_id,
            stage=self.stage.name,
            attempt=ctx.attempt,
            trace_id=tracing.trace_id(ctx.job.trace),
        )
        if not self._suspect(ctx):
            await self._attempt(ctx)
            return
        # The previous attempt died with its worker: run this one alone, so that if it
        # is the cause it takes nothing else down with it, and stay alone until its
        # outcome is recorded (a crash before that would blame it again). One that has
        # already died alone `max_attempts` times is a poison pill: not run again.
        self.slots.release()  # wait for exclusivity without holding a slot
        in_attempt = False
        try:
            async with self.slots.exclusive():  # takes the slot _attempt() gives back
                try:
                    solo = await self._with_db(store.count_solo_run, self.stage.name, ctx.item_id)
                except asyncio.CancelledError:
                    self.slots.release()
                    raise
                fail = None
                if solo > self.cfg.max_attempts:
                    fail = errors.PoisonMessage(
                        f"the {self.stage.name} worker died during each of the {solo - 1} attempts "
                        "that ran this job alone"
                    )
                else:
                    ctx.log.info("re-running alone a job whose worker died", solo_run=solo)
                in_attempt = True
                outcome = await self._attempt(ctx, fail_with=fail)
                await outcome.recorded.wait()
        except asyncio.CancelledError:
            if not in_attempt:  # stopped while waiting its turn: give the job back
                self._forget_active(ctx)
                why = "cancelled" if ctx.cancel_reason == "cancelled" else "released"
                self._done_q.put_nowait(Outcome(ctx, why))
            raise

    @staticmethod
    def _suspect(ctx: JobContext) -> bool:
        """Did an earlier delivery of this job end with its worker? Its previous attempt never
        recorded an outcome, or it was delivered before and never even claimed."""
        prev = ctx.item.get("prev_status")
        delivered = int(ctx.msg.metadata.num_delivered or 1) if ctx.msg.reply else 1
        return prev == "running" or (prev is None and delivered > 1)

    async def _attempt(self, ctx: JobContext, fail_with: DistillError | None = None) -> Outcome:
        """Run handle() once under the stage timeout (holding one slot) and queue the outcome."""
        _IN_FLIGHT[self.stage.name] += 1
        t0 = time.monotonic()
        # The stage timeout as a bare timer that cancels this task (asyncio.timeout costs
        # several times more per attempt, a measurable share of a trivial stage's CPU).
        timer = asyncio.get_running_loop().call_later(self.cfg.timeout, self._time_out, ctx, asyncio.current_task())
        try:
            if fail_with is not None:
                raise fail_with
            failpoints.crash("runner.crash_on_input", str(ctx.item.get("input") or ""))
            with tracing.stage_span(ctx):
                result = await self.stage.handle(ctx)
            outcome = Outcome(ctx, "done", result=result)
        except asyncio.CancelledError:
            if ctx.cancel_reason == "cancelled":
                outcome = Outcome(ctx, "cancelled")
            elif ctx.cancel_reason == "shutdown":
                outcome = Outcome(ctx, "released")
            elif ctx.cancel_reason == "timeout":
                ctx.cancel_reason = None
                asyncio.current_task().uncancel()  # type: ignore[union-attr]
                outcome = self._judge(ctx, self._timeout_failure())
            else:
                raise
        except Exception as e:
            if isinstance(e, TimeoutError) and not isinstance(e, DistillError):
                e = self._timeout_failure()
            outcome = self._judge(ctx, errors.classify(e))
        finally:
            timer.cancel()
            _IN_FLIGHT[self.stage.name] -= 1
            metrics.child(metrics.STAGE_DURATION, self.stage.name).observe(time.monotonic() - t0)
            self.slots.release()
            self._forget_active(ctx)
        self._done_q.put_nowait(outcome)
        return outcome

    @staticmethod
    def _time_out(ctx: JobContext, task: asyncio.Task[Any] | None) -> None:
        if task is not None and not task.done() and ctx.cancel_reason is None:
            ctx.cancel_reason = "timeout"
            task.cancel()

    def _timeout_failure(self) -> DistillError:
        return errors.TimeoutFailure(f"the {self.stage.name} stage did not finish within {self.cfg.timeout:g} s")

    def _forget_active(self, ctx: JobContext) -> None:
        self._active.pop(ctx.item_id, None)
        self._by_task[ctx.task_id].discard(ctx.item_id)
        if not self._by_task[ctx.task_id]:
            self._by_task.pop(ctx.task_id, None)

    def _judge(self, ctx: JobContext, err: DistillError) -> Outcome:
        """Retry with back-off, or fail for good."""
        retry_after = getattr(err, "retry_after", None)
        if err.retryable and retry_after is not None:
            # The peer told us when: waiting for it does not use an attempt.
            return Outcome(ctx, "retry", error=err, delay=float(retry_after), refund=True)
        if err.retryable and ctx.attempt < self.cfg.max_attempts:
            return Outcome(ctx, "retry", error=err, delay=backoff_delay(self.cfg, ctx.attempt))
        return Outcome(ctx, "fail", error=err)

    # --- completing ----------------------------------------------------------------------

    _completing = False

    async def _completer(self) -> None:
        while True:
            first = await self._done_q.get()
            self._completing = True
            batch = [first]
            while len(batch) < self.max_db_batch and not self._done_q.empty():
                batch.append(self._done_q.get_nowait())
            try:
                await self._complete_batch(batch)
            except Exception:
                # Not a database outage (those are waited out): give the jobs back so
                # they are redelivered rather than held for ever.
                log.exception("completion batch failed; jobs will be redelivered", stage=self.stage.name)
                for o in batch:
                    await self._settle(o.ctx.msg, "nak", delay=5.0)
                    o.recorded.set()
            finally:
                self._completing = False

    async def _complete_batch(self, batch: list[Outcome]) -> None:
        metrics.child(metrics.BATCH_SIZE, self.stage.name, "complete").observe(len(batch))
        by: dict[str, list[Outcome]] = defaultdict(list)
        for o in batch:
            by[o.kind].append(o)
        moved, failed, retried = await self._with_db(self._complete_tx, by)
        for o in by["done"]:
            failpoints.crash("runner.crash_after_commit", str(o.ctx.item.get("input") or ""))
        out: list[OutMsg] = []
        finished_tasks: set[uuid.UUID] = set()
        ctx_of = {o.ctx.item_id: o.ctx for o in batch}
        for row in moved:
            ctx = ctx_of[str(row["id"])]
            out.append(rev.item_event(ctx, row, "succeeded"))
            if row["status"] == "pending":
                nxt = {**ctx.item, **row, "generation": ctx.generation, "trace": ctx.trace or ctx.job.trace}
                out.append(rev.job_msg(nxt, row["current_stage"]))
            else:
                finished_tasks.add(row["task_id"])
        for row in failed:
            ctx = ctx_of[str(row["id"])]
            out.append(rev.item_event(ctx, row, "failed"))
            finished_tasks.add(row["task_id"])
        errs = {o.ctx.item_id: o.error for o in by["retry"]}
        for row in retried:
            ctx = ctx_of[str(row["item_id"])]
            err = errors.error_dict(errs[ctx.item_id], stage=self.stage.name, attempt=ctx.attempt)  # type: ignore[arg-type]
            out.append(rev.item_event(ctx, {**row, "id": row["item_id"]}, "retrying", error=err))
        for o in by["fail"]:
            out.append(rev.dead_letter_msg(o.ctx, o.error, self.name))  # type: ignore[arg-type]
        for o in by["cancelled"]:
            finished_tasks.add(uuid.UUID(o.ctx.task_id))
        await self._publish(out)
        for o in batch:
            if o.kind == "retry":
                await self._settle(o.ctx.msg, "nak", delay=o.delay)
                metrics.child(metrics.STAGE_RETRIES, self.stage.name).inc()
            elif o.kind == "released":
                await self._settle(o.ctx.msg, "nak")
            else:
                await self._settle(o.ctx.msg, "ack")
            self._count(o)
            o.recorded.set()
        for kind, group in by.items():
            if group:
                metrics.child(metrics.STAGE_ITEMS, self.stage.name, kind).inc(len(group))
        if finished_tasks:
            await self._finish_tasks(finished_tasks)

    async def _complete_tx(self, conn: AsyncConnection, by: dict[str, list[Outcome]]) -> Any:
        done = [(o.ctx, o.result) for o in by["done"] if o.result is not None]
        if done:
            await self.stage.persist(conn, done)  # type: ignore[arg-type]
        moved = await store.succeed(
            conn,
            self.stage.name,
            [
                {
                    "id": ctx.item_id,
                    "next": subjects.next_stage(self.stage.name, ctx.stages),
                    "title": res.title,
                    "parsed_content_id": res.parsed_content_id,
                    "ai_output_id": res.ai_output_id,
                    "export_id": res.export_id,
                    "ms": int((time.monotonic() - ctx.started) * 1000),
                    "note": res.message,
                }
                for ctx, res in done
            ],
        )
        fails = [
            {"id": o.ctx.item_id, "error": errors.error_dict(o.error, stage=self.stage.name, attempt=o.ctx.attempt)}
            for o in by["fail"]
            if o.error is not None
        ]
        failed = await store.fail(conn, self.stage.name, fails)
        await store.dead_letter(conn, [rev.dead_letter_row(o.ctx, o.error) for o in by["fail"]])  # type: ignore[arg-type]
        retried = await store.retry(
            conn,
            self.stage.name,
            [
                {
                    "id": o.ctx.item_id,
                    "refund": int(o.refund),
                    "error": errors.error_dict(o.error, stage=self.stage.name, attempt=o.ctx.attempt),
                }
                for o in by["retry"]
                if o.error is not None
            ],
        )
        await store.release(conn, self.stage.name, [o.ctx.item_id for o in by["released"]])
        await store.mark_cancelled(conn, self.stage.name, [o.ctx.item_id for o in by["cancelled"]])
        return moved, failed, retried

    async def _finish_tasks(self, task_ids: set[uuid.UUID]) -> None:
        # Which have ended is probed by a lone statement (no transaction: its snapshot is all
        # a transaction would give); only a task found ended is counted and finished.
        ended = await self._with_db(store.ended_tasks, list(task_ids), autocommit=True)
        if not ended:
            return
        counts = await self._with_db(store.task_counts, ended, autocommit=True)
        statuses = {tid: rollup(c) for tid, c in counts.items() if c.done}
        if not statuses:
            return
        rows = await self._with_db(store.finish_tasks, statuses)
        await self._publish([rev.task_changed(r, counts[r["id"]], terminal=True) for r in rows])

    async def _announce_ended(self, task_ids: set[uuid.UUID]) -> None:
        """Publish the terminal event of finished tasks again (its id makes copies harmless)."""

        async def tx(conn: AsyncConnection) -> list[tuple[dict[str, Any], Counts]]:
            rows = [r for r in await store.tasks(conn, list(task_ids)) if r["finished_at"] is not None]
            counts = await store.task_counts(conn, [r["id"] for r in rows])
            return [(r, counts.get(r["id"], Counts())) for r in rows]

        rows = await self._with_db(tx)
        await self._publish([rev.task_changed(r, c, terminal=True) for r, c in rows])

    def _count(self, o: Outcome) -> None:
        if o.kind == "done":
            self.processed += 1
        elif o.kind == "fail":
            self.failed += 1
            self.processed += 1
            code = o.error.code if o.error else "INTERNAL"
            metrics.child(metrics.DEAD_LETTERS, self.stage.name, code).inc()
        if o.error is not None:
            metrics.child(metrics.STAGE_FAILURES, self.stage.name, o.error.code, str(o.kind == "fail").lower()).inc()
            o.ctx.log.info(
                "attempt failed", code=o.error.code, error=o.error.message, outcome=o.kind, delay=round(o.delay, 2)
            )

    # --- helpers -------------------------------------------------------------------------

    async def _with_db(self, fn: Any, *args: Any, autocommit: bool = False) -> Any:
        """Run fn(conn, *args) in one transaction (or, autocommit, each statement on its own:
        for a lone read, which then costs no BEGIN and COMMIT); retry while the database is
        unavailable."""
        assert self.engine is not None
        delay = 0.2
        while True:
            try:
                if autocommit:
                    async with self.engine.connect() as conn:
                        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                        return await fn(conn, *args)
                async with self.engine.begin() as conn:
                    return await fn(conn, *args)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if not is_unavailable(e):
                    raise
                log.warning("database unavailable; retrying", stage=self.stage.name, error=str(e)[:200])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _publish(self, msgs: list[OutMsg]) -> None:
        """Publish, retrying until JetStream has them (a NATS restart is waited out)."""
        assert self.js is not None
        delay = 0.2
        while True:
            try:
                await publish_all(self.js, msgs)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("publish failed; retrying", stage=self.stage.name, error=str(e)[:200], count=len(msgs))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _settle(self, msg: Msg, how: str, delay: float = 0.0) -> None:
        self._held.pop(msg.reply, None)
        try:
            if how == "ack":
                await msg.ack()
            elif how == "nak":
                await msg.nak(delay=delay if delay > 0 else None)
            elif how == "term":
                await msg.term()
        except Exception as e:  # already settled, or connection gone: redelivery covers it
            log.debug("settle failed", how=how, error=str(e))

    async def _dead_letter_raw(self, m: Msg, err: DistillError, job: jobs_pb2.Job | None = None) -> None:
        """Dead-letter a job that cannot be claimed (malformed, or naming a missing item)."""
        deliveries = int(m.metadata.num_delivered or 0) if m.reply else 0
        rec = rev.dead_letter_record(job, err, self.name, deliveries, raw=m.data, stage=self.stage.name)
        await self._with_db(lambda conn: store.dead_letter(conn, [rev.raw_dead_letter_row(rec, self.stage.name)]))
        await self._publish([OutMsg(subjects.dlq_subject(self.stage.name), rec.SerializeToString(), rec.id)])
        await self._settle(m, "term")
        metrics.child(metrics.DEAD_LETTERS, self.stage.name, err.code).inc()
        log.warning("dead-lettered job", stage=self.stage.name, code=err.code, error=err.message)

    async def _progress(self, ctx: JobContext, percent: int, message: str) -> None:
        """Store and announce progress, at most every PROGRESS_INTERVAL seconds per attempt.

        The attempt's start counts as its last report: an attempt that ends within the
        interval shows no progress (its end event follows at once), so only slow ones
        pay a write and an event for it."""
        now = time.monotonic()
        if now - (ctx.last_progress or ctx.started) < PROGRESS_INTERVAL and percent < 100:
            return
        ctx.last_progress = now
        with contextlib.suppress(Exception):
            async with self.engine.begin() as conn:  # type: ignore[union-attr]
                await store.set_progress(conn, self.stage.name, ctx.item_id, percent, message)
            await self._publish([rev.progress_event(ctx, percent, message)])

    async def _heartbeat(self) -> None:
        """Tell JetStream we are still working on what we hold (in_progress)."""
        interval = max(1.0, self.cfg.effective_ack_wait / 3)
        while True:
            await asyncio.sleep(interval)
            for m in list(self._held.values()):
                with contextlib.suppress(Exception):
                    await m.in_progress()

    async def _on_cancel(self, msg: Msg) -> None:
        try:
            req = jobs_pb2.CancelRequest.FromString(msg.data)
        except Exception:
            return
        ids = set(req.item_ids) or set(self._by_task.get(req.task_id, ()))
        for item_id in ids:
            ctx = self._active.get(item_id)
            if ctx is not None and ctx.task_id == req.task_id and ctx.task is not None:
                ctx.cancel_reason = "cancelled"
                ctx.task.cancel()

    async def _advisories(self, sub: Any) -> None:
        """Jobs JetStream gave up redelivering (MAX_DELIVERIES advisories) become dead letters."""
        from distill_core.runner.advisory import handle_max_deliveries

        while not self.stopping.is_set():
            try:
                msgs = await sub.fetch(16, timeout=self.poll_seconds)
            except (NatsTimeout, TimeoutError):
                continue
            except Exception as e:
                log.warning("advisory fetch failed", stage=self.stage.name, error=str(e))
                await asyncio.sleep(1.0)
                continue
            for m in msgs:
                try:
                    await handle_max_deliveries(self, m)
                    await m.ack()
                except Exception as e:
                    log.warning("advisory not handled; will retry", error=str(e)[:200])
                    await self._settle(m, "nak", delay=5.0)

    # --- presence (ListWorkers) ----------------------------------------------------------

    async def _announce(self) -> None:
        from distill_core.runner.presence import announce_forever

        await announce_forever(self)

    async def _forget(self) -> None:
        from distill_core.runner.presence import forget

        await forget(self)

    def _task_died(self, t: asyncio.Task[Any]) -> None:
        """A runner loop must never end while running: say so loudly if one does."""
        if t.cancelled() or self.stopping.is_set():
            return
        exc = t.exception()
        log.error(
            "runner loop ended unexpectedly", loop=t.get_name(), stage=self.stage.name, error=repr(exc), exc_info=exc
        )

    @property
    def active_item_ids(self) -> list[str]:
        return list(self._active)
