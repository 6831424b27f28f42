"""The blocking client: the same methods as AsyncClient, run on a private event loop.

    with Client() as client:
        task = client.submit(["https://example.com/a"])
        for ev in client.watch(task.id):
            print(ev.type)
        for t in client.iter_tasks(statuses=["failed"]):
            client.retry(t.id)

Async iterators (watch, watch_tasks, iter_*) become ordinary iterators. A Client is
not thread-safe: use one per thread.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

from distill_client.client import AsyncClient


class Client:
    """Blocking twin of AsyncClient (see its methods for the arguments)."""

    def __init__(self, gateway: str | None = None, api_key: str | None = None, **kw: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._async = self._loop.run_until_complete(self._make(gateway, api_key, kw))
        self.target = self._async.target

    @staticmethod
    async def _make(gateway: str | None, api_key: str | None, kw: dict[str, Any]) -> AsyncClient:
        return AsyncClient(gateway, api_key, **kw)  # the channel binds to the running loop

    def _run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    def _iterate(self, agen: AsyncIterator[Any]) -> Iterator[Any]:
        try:
            while True:
                try:
                    yield self._run(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            if not self._loop.is_closed():
                self._run(agen.aclose())  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._async, name)
        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            def iterate(*a: Any, **kw: Any) -> Iterator[Any]:
                return self._iterate(fn(*a, **kw))

            return iterate
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            def call(*a: Any, **kw: Any) -> Any:
                return self._run(fn(*a, **kw))

            return call
        return fn

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {n for n in dir(AsyncClient) if not n.startswith("_")})

    def close(self) -> None:
        if not self._loop.is_closed():
            self._run(self._async.close())
            self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
