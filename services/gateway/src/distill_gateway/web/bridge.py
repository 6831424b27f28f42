"""Calling the gateway's own servicers from HTTP, in process.

Why in process, and not a gRPC call to our own port (a transcoding proxy): the HTTP
handlers call the very servicer methods the gRPC server registered, through their
`@rpc` / `@rpc_stream` decorators, with a context that carries the HTTP request's
`Authorization` header as gRPC metadata. So authentication, tenancy, validation, limits
and error mapping are the gRPC API's own code, with nothing to keep in sync, and:

* no second hop: no loopback connection, no serialising every message twice, no
  dependence on how the gRPC port is secured (with TLS or mTLS on, a loopback client
  would need certificates of its own);
* the peer the servicers see is the browser's address, not 127.0.0.1;
* a WatchTask stream is the servicer's async generator itself: when the browser reads
  slowly, the SSE write waits, the generator waits, and the watch's own fell-behind
  rule (watch.py) applies exactly as it does to a slow gRPC client.

The cost: anything added as a gRPC *server interceptor* (grpc_server.py takes some)
would not see these calls. There are none today; cross-cutting checks belong in
calls.py's decorators, which both paths run.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, NoReturn

import grpc
from distill_core.errors import DistillError
from google.protobuf.message import Message

# HTTP request headers handed to the servicers as gRPC metadata (lower-case, as gRPC has them).
FORWARDED_HEADERS = ("authorization", "traceparent", "tracestate", "x-request-id", "user-agent")


class RpcAbort(Exception):
    """A servicer ended the call with a status (what `context.abort` raises here). `reason`:
    the Distill error code behind it (FILE_TOO_LARGE, ...), when the servicer raised one."""

    def __init__(self, code: grpc.StatusCode, details: str, reason: str = "") -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details
        self.reason = reason


def peer_of(client: tuple[str, int] | None) -> str:
    """The HTTP client's address in gRPC's peer format (`ipv4:1.2.3.4:5`, `ipv6:[::1]:5`)."""
    if client is None:
        return "unknown"
    host, port = client[0], client[1]
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"


def metadata_of(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, headers[name]) for name in FORWARDED_HEADERS if name in headers)


class HttpCallContext:
    """What the servicers use of `grpc.aio.ServicerContext`, for a call that came over HTTP."""

    def __init__(self, metadata: tuple[tuple[str, str], ...], peer: str = "unknown") -> None:
        self._metadata = metadata
        self._peer = peer
        self._code: grpc.StatusCode | None = None
        self._details = ""
        self._trailing: tuple[tuple[str, str], ...] = ()
        self._done = False
        self._callbacks: list[Callable[[Any], None]] = []

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def peer(self) -> str:
        return self._peer

    def peer_identities(self) -> None:
        return None

    def peer_identity_key(self) -> None:
        return None

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: tuple[tuple[str, str], ...] = ()
    ) -> NoReturn:
        self._trailing = tuple(trailing_metadata)
        # calls.py aborts from the `except` block of the error it maps: that error's code.
        handled = sys.exc_info()[1]
        raise RpcAbort(code, details, handled.code if isinstance(handled, DistillError) else "")

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def set_details(self, details: str) -> None:
        self._details = details

    def details(self) -> str:
        return self._details

    def set_trailing_metadata(self, trailing_metadata: tuple[tuple[str, str], ...]) -> None:
        self._trailing = tuple(trailing_metadata)

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._trailing

    async def send_initial_metadata(self, initial_metadata: Any) -> None:
        return None

    def set_compression(self, compression: Any) -> None:
        return None

    def disable_next_message_compression(self) -> None:
        return None

    def time_remaining(self) -> float | None:
        return None

    def cancelled(self) -> bool:
        return False

    def done(self) -> bool:
        return self._done

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self._callbacks.append(callback)

    def finish(self) -> None:
        """The call is over (answered, failed, or the browser went away)."""
        if self._done:
            return
        self._done = True
        for cb in self._callbacks:
            cb(self)

    def raise_for_status(self) -> None:
        """A method that set a non-OK code without aborting failed all the same."""
        if self._code is not None and self._code != grpc.StatusCode.OK:
            raise RpcAbort(self._code, self._details)


async def unary(
    method: Callable[[Any, Any], Awaitable[Message]], request: Message, context: HttpCallContext
) -> Message:
    """Call a unary servicer method; RpcAbort when it fails."""
    try:
        response = await method(request, context)
        context.raise_for_status()
        return response
    finally:
        context.finish()


async def stream(
    method: Callable[[Any, Any], AsyncIterator[Message]], request: Message, context: HttpCallContext
) -> AsyncIterator[Message]:
    """Iterate a server-streaming servicer method; RpcAbort when it fails. Closing this
    generator (the browser went away) closes the servicer's, which lets go of its watch."""
    gen = method(request, context)
    try:
        async for message in gen:
            yield message
        context.raise_for_status()
    finally:
        await gen.aclose()
        context.finish()
