"""Async and sync clients that hide the generated stubs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import grpc
from distill.v1 import common_pb2, pipeline_pb2, pipeline_pb2_grpc, task_pb2

from distill_client.config import resolve_api_key, resolve_gateway

TERMINAL_TASK = {
    task_pb2.TASK_STATUS_SUCCEEDED,
    task_pb2.TASK_STATUS_PARTIALLY_FAILED,
    task_pb2.TASK_STATUS_FAILED,
    task_pb2.TASK_STATUS_CANCELLED,
}


class DistillClientError(Exception):
    """An RPC failed; `code` is the gRPC status code, `message` what the server said."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


def resolve_target(gateway: str | None = None, api_key: str | None = None) -> tuple[str, str | None]:
    return resolve_gateway(gateway), resolve_api_key(api_key)


def _wrap(e: grpc.RpcError) -> DistillClientError:
    return DistillClientError(e.code(), e.details() or "")


class AsyncClient:
    """client = AsyncClient(); task = await client.submit([...]); async for ev in client.watch(task.id): ..."""

    def __init__(self, gateway: str | None = None, api_key: str | None = None, *, timeout: float = 30.0) -> None:
        self.target, self.api_key = resolve_target(gateway, api_key)
        self.timeout = timeout
        self.channel = grpc.aio.insecure_channel(self.target, options=[("grpc.max_receive_message_length", 64 << 20)])
        self.pipeline = pipeline_pb2_grpc.PipelineStub(self.channel)

    @property
    def metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.api_key}")] if self.api_key else []

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _call(self, fn: Any, req: Any, timeout: float | None = None) -> Any:
        try:
            return await fn(req, metadata=self.metadata, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            raise _wrap(e) from None

    async def submit(
        self,
        urls: Iterable[str],
        *,
        stages: Iterable[int] = (),
        priority: int = common_pb2.PRIORITY_UNSPECIFIED,
        labels: dict[str, str] | None = None,
        idempotency_key: str = "",
        ai: common_pb2.AiOptions | None = None,
        export: common_pb2.ExportOptions | None = None,
    ) -> task_pb2.Task:
        req = pipeline_pb2.CreateTaskRequest(
            urls=list(urls),
            stages=list(stages),
            priority=priority,
            labels=labels or {},  # type: ignore[arg-type]
            idempotency_key=idempotency_key,
            ai=ai,
            export=export,
        )
        return await self.create_task(req)

    async def create_task(self, req: pipeline_pb2.CreateTaskRequest) -> task_pb2.Task:
        return await self._call(self.pipeline.CreateTask, req)

    async def get_task(self, task_id: str, include_items: bool = False) -> task_pb2.Task:
        return await self._call(
            self.pipeline.GetTask, pipeline_pb2.GetTaskRequest(id=task_id, include_items=include_items)
        )

    async def get_item(self, item_id: str, full: bool = False) -> task_pb2.Item:
        view = task_pb2.FULL if full else task_pb2.BASIC
        return await self._call(self.pipeline.GetItem, pipeline_pb2.GetItemRequest(id=item_id, view=view))

    async def watch(self, task_id: str, from_sequence: int = 0) -> AsyncIterator[task_pb2.TaskEvent]:
        """Events until the task's terminal event; reconnects with from_sequence if the stream breaks."""
        seq = from_sequence
        retries = 0
        while True:
            call = self.pipeline.WatchTask(
                pipeline_pb2.WatchTaskRequest(task_id=task_id, from_sequence=seq), metadata=self.metadata
            )
            try:
                async for ev in call:
                    retries = 0
                    if ev.sequence:
                        seq = ev.sequence
                    yield ev
                    if ev.terminal:
                        return
                return
            except grpc.RpcError as e:
                if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL) and retries < 10:
                    retries += 1
                    await asyncio.sleep(min(0.5 * 2**retries, 10))
                    continue
                raise _wrap(e) from None

    async def wait(self, task_id: str) -> task_pb2.Task:
        """Block until the task is finished; returns it with its items."""
        async for _ in self.watch(task_id):
            pass
        return await self.get_task(task_id, include_items=True)


class Client:
    """The same API, blocking (runs an event loop of its own)."""

    def __init__(self, gateway: str | None = None, api_key: str | None = None, *, timeout: float = 30.0) -> None:
        self._loop = asyncio.new_event_loop()
        self._async = AsyncClient(gateway, api_key, timeout=timeout)
        self.target = self._async.target

    def _run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    def close(self) -> None:
        self._run(self._async.close())
        self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def submit(self, urls: Iterable[str], **kw: Any) -> task_pb2.Task:
        return self._run(self._async.submit(urls, **kw))

    def get_task(self, task_id: str, include_items: bool = False) -> task_pb2.Task:
        return self._run(self._async.get_task(task_id, include_items))

    def get_item(self, item_id: str, full: bool = False) -> task_pb2.Item:
        return self._run(self._async.get_item(item_id, full))

    def wait(self, task_id: str) -> task_pb2.Task:
        return self._run(self._async.wait(task_id))

    def watch(self, task_id: str, from_sequence: int = 0) -> Iterator[task_pb2.TaskEvent]:
        agen = self._async.watch(task_id, from_sequence)
        while True:
            try:
                yield self._run(agen.__anext__())
            except StopAsyncIteration:
                return
