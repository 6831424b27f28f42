"""The asynchronous client: every RPC of Pipeline and Admin, without the stubs.

    async with AsyncClient() as client:                  # gateway and key: flags, env, `distill up`
        task = await client.submit(["https://example.com/a"], priority="high", labels={"list": "reading"})
        async for ev in client.watch(task.id):           # snapshot, then every change, until the end
            ...
        done = await client.wait(task.id)                 # the finished task with its items
        async for t in client.iter_tasks(statuses=["failed"]):
            await client.retry(t.id)

Enum arguments take friendly names ("high", "parse", "failed") or the proto values;
failures raise the typed exceptions of `distill_client.errors`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import grpc
from distill.v1 import admin_pb2, admin_pb2_grpc, common_pb2, pipeline_pb2, pipeline_pb2_grpc, task_pb2
from google.protobuf import json_format

from distill_client import names
from distill_client.config import Tls, resolve_api_key, resolve_gateway, resolve_tls
from distill_client.errors import DistillError, from_rpc_error
from distill_client.reports import ReportsMixin
from distill_client.uploads import UploadsMixin

TERMINAL_TASK = frozenset(
    {
        task_pb2.TASK_STATUS_SUCCEEDED,
        task_pb2.TASK_STATUS_PARTIALLY_FAILED,
        task_pb2.TASK_STATUS_FAILED,
        task_pb2.TASK_STATUS_CANCELLED,
    }
)
# Worth trying again: the gateway restarting, or a stream cut by a proxy.
_TRANSIENT = (grpc.StatusCode.UNAVAILABLE,)
_STREAM_TRANSIENT = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.RESOURCE_EXHAUSTED,  # a watcher that fell behind was dropped: resume from where it was
)

T = TypeVar("T")


def resolve_target(gateway: str | None = None, api_key: str | None = None) -> tuple[str, str | None]:
    return resolve_gateway(gateway), resolve_api_key(api_key)


def _options(value: Any, cls: type[T]) -> T | None:
    """An options message from a message, a dict (JSON field names) or None."""
    if value is None or isinstance(value, cls):
        return value
    return json_format.ParseDict(dict(value), cls())  # type: ignore[arg-type]


def task_options(
    stages: Iterable[str | int],
    priority: str | int | None,
    labels: Mapping[str, str] | None,
    idempotency_key: str,
    ai: common_pb2.AiOptions | Mapping[str, Any] | None,
    export: common_pb2.ExportOptions | Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The options CreateTaskRequest and UploadOptions share, as their fields."""
    return {
        "stages": [names.stage(s) for s in stages],
        "priority": names.priority(priority),
        "labels": dict(labels or {}),
        "idempotency_key": idempotency_key,
        "ai": _options(ai, common_pb2.AiOptions),
        "export": _options(export, common_pb2.ExportOptions),
    }


class AsyncClient(ReportsMixin, UploadsMixin):  # reports.py: export_report, ...; uploads.py: upload
    """A connection to the gateway. Use it as `async with AsyncClient(...) as client:`."""

    def __init__(
        self,
        gateway: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        credentials: grpc.ChannelCredentials | None = None,
        tls: Tls | None = None,
        retries: int = 3,
    ) -> None:
        """tls: CA, client certificate (mTLS), server name; by default from DISTILL_TLS_* variables
        (or what `distill up` recorded). credentials: ready-made channel credentials instead."""
        self.target, self.api_key = resolve_target(gateway, api_key)
        self.timeout = timeout
        self.retries = retries
        opts: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.keepalive_time_ms", 30_000),
        ]
        self.tls = None
        if credentials is None:
            self.tls = tls or resolve_tls(gateway)
            if self.tls is not None:
                credentials = self.tls.credentials()
                opts += self.tls.options()
        self.channel = (
            grpc.aio.secure_channel(self.target, credentials, options=opts)
            if credentials
            else grpc.aio.insecure_channel(self.target, options=opts)
        )
        self.pipeline = pipeline_pb2_grpc.PipelineStub(self.channel)
        self.admin = admin_pb2_grpc.AdminStub(self.channel)
        self.channel_setup = (credentials, opts)  # for the blocking channel of uploads (uploads.py)

    @property
    def metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.api_key}")] if self.api_key else []

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _call(self, fn: Callable[..., Awaitable[T]], req: Any, *, idempotent: bool = False) -> T:
        """One unary call; a read is tried again while the gateway is unavailable."""
        attempt = 0
        while True:
            try:
                return await fn(req, metadata=self.metadata, timeout=self.timeout)
            except grpc.RpcError as e:
                attempt += 1
                if idempotent and e.code() in _TRANSIENT and attempt <= self.retries:  # type: ignore[attr-defined]
                    await asyncio.sleep(min(0.25 * 2**attempt, 4.0))
                    continue
                raise from_rpc_error(e) from None

    # --- tasks ---------------------------------------------------------------------------

    async def submit(
        self,
        urls: Iterable[str] = (),
        *,
        parsed_content_ids: Iterable[str] = (),
        ai_content_ids: Iterable[str] = (),
        stages: Iterable[str | int] = (),
        priority: str | int | None = None,
        labels: Mapping[str, str] | None = None,
        idempotency_key: str = "",
        ai: common_pb2.AiOptions | Mapping[str, Any] | None = None,
        export: common_pb2.ExportOptions | Mapping[str, Any] | None = None,
    ) -> task_pb2.Task:
        """Create a task from URLs (or from earlier parsed / AI content ids); answers at once.

        stages: a contiguous run such as ["parse"] or ["ai", "export"] (default: to the end).
        idempotency_key: the same key gives the same task back, however often it is sent.
        """
        req = pipeline_pb2.CreateTaskRequest(
            urls=list(urls),
            parsed_content_ids=list(parsed_content_ids),
            ai_content_ids=list(ai_content_ids),
            **task_options(stages, priority, labels, idempotency_key, ai, export),
        )
        # Safe to send again only when the key makes it idempotent.
        return await self._call(self.pipeline.CreateTask, req, idempotent=bool(idempotency_key))

    async def create_task(self, req: pipeline_pb2.CreateTaskRequest) -> task_pb2.Task:
        return await self._call(self.pipeline.CreateTask, req, idempotent=bool(req.idempotency_key))

    async def get_task(self, task_id: str, include_items: bool = False) -> task_pb2.Task:
        req = pipeline_pb2.GetTaskRequest(id=task_id, include_items=include_items)
        return await self._call(self.pipeline.GetTask, req, idempotent=True)

    async def get_item(self, item_id: str, full: bool = False) -> task_pb2.Item:
        view = task_pb2.FULL if full else task_pb2.BASIC
        return await self._call(
            self.pipeline.GetItem, pipeline_pb2.GetItemRequest(id=item_id, view=view), idempotent=True
        )

    async def list_tasks(
        self,
        *,
        statuses: Iterable[str | int] = (),
        labels: Mapping[str, str] | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> pipeline_pb2.ListTasksResponse:
        """One page of tasks, newest first; pass next_page_token back for the next one."""
        req = pipeline_pb2.ListTasksRequest(
            statuses=[names.task_status(s) for s in statuses],  # type: ignore[misc]
            labels=dict(labels or {}),
            page_size=page_size,
            page_token=page_token,
        )
        return await self._call(self.pipeline.ListTasks, req, idempotent=True)

    async def iter_tasks(
        self, *, statuses: Iterable[str | int] = (), labels: Mapping[str, str] | None = None, page_size: int = 0
    ) -> AsyncIterator[task_pb2.Task]:
        """Every matching task, newest first, page after page."""
        statuses = list(statuses)
        async for t in _pages(
            lambda token: self.list_tasks(statuses=statuses, labels=labels, page_size=page_size, page_token=token),
            "tasks",
        ):
            yield t

    async def list_items(
        self, task_id: str, *, statuses: Iterable[str | int] = (), page_size: int = 0, page_token: str = ""
    ) -> pipeline_pb2.ListItemsResponse:
        req = pipeline_pb2.ListItemsRequest(
            task_id=task_id,
            statuses=[names.item_status(s) for s in statuses],  # type: ignore[misc]
            page_size=page_size,
            page_token=page_token,
        )
        return await self._call(self.pipeline.ListItems, req, idempotent=True)

    async def iter_items(
        self, task_id: str, *, statuses: Iterable[str | int] = (), page_size: int = 0
    ) -> AsyncIterator[task_pb2.Item]:
        """Every matching item of the task, in task order."""
        statuses = list(statuses)
        async for it in _pages(
            lambda token: self.list_items(task_id, statuses=statuses, page_size=page_size, page_token=token), "items"
        ):
            yield it

    async def cancel(self, task_id: str) -> task_pb2.Task:
        """Cancel pending items at once and interrupt running ones; FailedPrecondition if it has finished."""
        return await self._call(self.pipeline.CancelTask, pipeline_pb2.CancelTaskRequest(id=task_id))

    async def retry(
        self,
        task_id: str,
        *,
        item_ids: Iterable[str] = (),
        stage: str | int | None = None,
        error_code: str = "",
    ) -> pipeline_pb2.RetryTaskResponse:
        """Re-run failed items from the stage that failed; `retried_count` says how many (0 is fine)."""
        req = pipeline_pb2.RetryTaskRequest(
            id=task_id,
            item_ids=list(item_ids),
            stage=names.stage(stage),  # type: ignore[arg-type]
            error_code=error_code,
        )
        return await self._call(self.pipeline.RetryTask, req)

    # --- watching ------------------------------------------------------------------------

    async def watch(
        self, task_id: str, from_sequence: int = 0, *, heartbeats: bool = False
    ) -> AsyncIterator[task_pb2.TaskEvent]:
        """A snapshot, then every change until the task's terminal event.

        A broken stream is resumed after the last event seen (from_sequence), so nothing
        is missed or repeated. Heartbeats are passed on only when asked for.
        """
        seq = from_sequence
        failures = 0
        while True:
            call = self.pipeline.WatchTask(
                pipeline_pb2.WatchTaskRequest(task_id=task_id, from_sequence=seq), metadata=self.metadata
            )
            try:
                async for ev in call:
                    failures = 0
                    if ev.sequence:
                        seq = ev.sequence
                    if ev.type != task_pb2.EVENT_TYPE_HEARTBEAT or heartbeats:
                        yield ev
                    if ev.terminal:
                        return
                return
            except grpc.RpcError as e:
                failures += 1
                if e.code() in _STREAM_TRANSIENT and failures <= 10:  # type: ignore[attr-defined]
                    await asyncio.sleep(min(0.25 * 2**failures, 10.0))
                    continue
                raise from_rpc_error(e) from None
            finally:
                call.cancel()

    async def watch_tasks(
        self, *, labels: Mapping[str, str] | None = None, from_sequence: int = 0, heartbeats: bool = False
    ) -> AsyncIterator[task_pb2.TaskEvent]:
        """Every event of all of the caller's tasks (carrying all of `labels`); never ends on its own."""
        seq = from_sequence
        failures = 0
        while True:
            call = self.pipeline.WatchTasks(
                pipeline_pb2.WatchTasksRequest(from_sequence=seq, labels=dict(labels or {})), metadata=self.metadata
            )
            try:
                async for ev in call:
                    failures = 0
                    if ev.sequence:
                        seq = ev.sequence
                    if ev.type != task_pb2.EVENT_TYPE_HEARTBEAT or heartbeats:
                        yield ev
            except grpc.RpcError as e:
                failures += 1
                if e.code() in _STREAM_TRANSIENT and failures <= 10:  # type: ignore[attr-defined]
                    await asyncio.sleep(min(0.25 * 2**failures, 10.0))
                    continue
                raise from_rpc_error(e) from None
            finally:
                call.cancel()

    async def wait(self, task_id: str, timeout: float | None = None) -> task_pb2.Task:
        """Wait until the task has finished; returns it with its items. DeadlineExceeded after `timeout` s."""
        deadline = None if timeout is None else time.monotonic() + timeout

        async def until_done() -> None:
            async for _ in self.watch(task_id):
                pass

        try:
            await asyncio.wait_for(until_done(), None if deadline is None else max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            from distill_client.errors import DeadlineExceeded

            raise DeadlineExceeded(f"task {task_id} did not finish within {timeout:g} s") from None
        return await self.get_task(task_id, include_items=True)

    # --- admin ---------------------------------------------------------------------------

    async def list_workers(self, stage: str | int | None = None) -> admin_pb2.ListWorkersResponse:
        """Live workers (heard from within `ttl`), by stage then name."""
        req = admin_pb2.ListWorkersRequest(stage=names.stage(stage))  # type: ignore[arg-type]
        return await self._call(self.admin.ListWorkers, req, idempotent=True)

    async def queue_stats(self) -> admin_pb2.QueueStats:
        """Per stage and priority lane: pending, ack-pending, redelivered, oldest age; dead letters per stage."""
        return await self._call(self.admin.GetQueueStats, admin_pb2.GetQueueStatsRequest(), idempotent=True)

    async def statistics(self, window: str | float | timedelta | None = None) -> admin_pb2.Statistics:
        """Counts, success rates by stage and error code, and AI usage over `window` (default 24 h)."""
        req = admin_pb2.GetStatisticsRequest()
        if window is not None:
            req.window.FromMicroseconds(int(names.seconds(window) * 1e6))
        return await self._call(self.admin.GetStatistics, req, idempotent=True)

    async def list_dead_letters(
        self,
        *,
        stage: str | int | None = None,
        task_id: str = "",
        error_code: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> admin_pb2.ListDeadLettersResponse:
        req = admin_pb2.ListDeadLettersRequest(
            stage=names.stage(stage),  # type: ignore[arg-type]
            task_id=task_id,
            error_code=error_code,
            page_size=page_size,
            page_token=page_token,
        )
        return await self._call(self.admin.ListDeadLetters, req, idempotent=True)

    async def iter_dead_letters(
        self, *, stage: str | int | None = None, task_id: str = "", error_code: str = "", page_size: int = 0
    ) -> AsyncIterator[admin_pb2.DeadLetter]:
        """Every matching dead letter, newest first."""
        async for d in _pages(
            lambda token: self.list_dead_letters(
                stage=stage, task_id=task_id, error_code=error_code, page_size=page_size, page_token=token
            ),
            "dead_letters",
        ):
            yield d

    async def replay_dead_letters(
        self, ids: Iterable[str] = (), *, all: bool = False, stage: str | int | None = None, task_id: str = ""
    ) -> admin_pb2.ReplayDeadLettersResponse:
        """Re-run the dead letters' items from the stage that failed and remove the records."""
        req = _selection(admin_pb2.ReplayDeadLettersRequest, ids, all, stage, task_id)
        return await self._call(self.admin.ReplayDeadLetters, req)

    async def purge_dead_letters(
        self, ids: Iterable[str] = (), *, all: bool = False, stage: str | int | None = None, task_id: str = ""
    ) -> admin_pb2.PurgeDeadLettersResponse:
        """Delete dead-letter records (their items stay failed)."""
        req = _selection(admin_pb2.PurgeDeadLettersRequest, ids, all, stage, task_id)
        return await self._call(self.admin.PurgeDeadLetters, req)


async def _pages(fetch: Callable[[str], Awaitable[Any]], field: str) -> AsyncIterator[Any]:
    """Every row of a list RPC: `fetch(page_token)` gives one page, `field` names its rows."""
    token = ""
    while True:
        page = await fetch(token)
        for row in getattr(page, field):
            yield row
        token = page.next_page_token
        if not token:
            return


def _selection(cls: type[T], ids: Iterable[str], all: bool, stage: str | int | None, task_id: str) -> T:
    """A Replay/Purge request: ids, or all=True narrowed by stage and task."""
    return cls(ids=list(ids), all=all, stage=names.stage(stage), task_id=task_id)  # type: ignore[call-arg]


__all__ = ["TERMINAL_TASK", "AsyncClient", "DistillError", "resolve_target"]
