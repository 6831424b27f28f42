"""Confirmed JetStream publishes, pipelined: one reply subscription per connection.

`js.publish()` is a request per message: a future, a reply inbox, a timer and a JSON
decode each, and run concurrently with `asyncio.gather` a task each too. That costs about
25 µs of CPU per message here, the biggest single cost of a stage's hand-off. This sends
every message of a batch with its own reply subject under one wildcard subscription,
keeps one future per message and waits for them all under one timer: about 8 µs a
message, with the same guarantee (each message acknowledged by the stream, or an error).

Replies go to the connection's own inbox prefix (`_INBOX.<user>` when NATS users are
configured), which every service may subscribe to.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import weakref
from collections.abc import Sequence
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

_NO_RESPONDERS = "503"


class Confirmer:
    """Publishes messages to JetStream and waits for the stream's acknowledgements."""

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._prefix = ""
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._tokens = itertools.count(1)
        self._ready: asyncio.Future[None] | None = None

    async def _subscribe(self) -> None:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
            try:
                base = f"{self._nc._inbox_prefix.decode()}.{self._nc._nuid.next().decode()}"
                await self._nc.subscribe(f"{base}.*", cb=self._on_reply)
                self._prefix = f"{base}."
                self._ready.set_result(None)
            except BaseException as e:
                self._ready.set_exception(e)
                self._ready.exception()  # retrieved: waiters see it through await
                self._ready = None
                raise
        await self._ready

    async def _on_reply(self, msg: Msg) -> None:
        fut = self._pending.pop(msg.subject[len(self._prefix) :], None)
        if fut is None or fut.done():
            return
        if msg.headers and msg.headers.get("Status") == _NO_RESPONDERS:
            fut.set_exception(nats.js.errors.NoStreamResponseError())
        elif b'"error"' in msg.data:
            try:
                err = json.loads(msg.data).get("error")
            except ValueError:
                err = None
            if err:
                fut.set_exception(nats.js.errors.APIError.from_error(err))
            else:
                fut.set_result(None)
        else:
            fut.set_result(None)

    async def publish(
        self, msgs: Sequence[tuple[str, bytes, dict[str, str] | None]], timeout: float
    ) -> list[BaseException]:
        """Publish (subject, data, headers) each; the errors, one per message that was not
        stored (a missing acknowledgement after `timeout` is a nats TimeoutError)."""
        if not msgs:
            return []
        if not self._prefix:
            await self._subscribe()
        loop = asyncio.get_running_loop()
        tokens: list[str] = []
        futs: list[asyncio.Future[None]] = []
        try:
            for subject, data, headers in msgs:
                token = str(next(self._tokens))
                fut = loop.create_future()
                self._pending[token] = fut
                tokens.append(token)
                futs.append(fut)
                await self._nc.publish(subject, data, reply=self._prefix + token, headers=headers)
            _, late = await asyncio.wait(futs, timeout=timeout)
        finally:
            for token in tokens:
                self._pending.pop(token, None)
        errors: list[BaseException] = [nats.errors.TimeoutError() for _ in late]
        for f in futs:
            if f.done() and not f.cancelled() and f.exception() is not None:
                errors.append(f.exception())  # type: ignore[arg-type]
            elif not f.done():
                f.cancel()
        return errors


_confirmers: weakref.WeakKeyDictionary[Any, Confirmer] = weakref.WeakKeyDictionary()


def confirmer(nc: NATS) -> Confirmer:
    """The connection's confirmer (made on first use)."""
    c = _confirmers.get(nc)
    if c is None:
        c = _confirmers[nc] = Confirmer(nc)
    return c
