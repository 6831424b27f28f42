"""What every gRPC server reports about its RPCs: Prometheus counts and latencies, and a span.

`TelemetryInterceptor` (installed by GrpcServer) wraps each unary and server-streaming
method once: grpc_server_started_total, grpc_server_handled_total by status code,
grpc_server_handling_seconds and, for streams, grpc_server_msg_sent_total, labelled by
grpc_type, grpc_service and grpc_method (only methods the server has: an unknown name
never becomes a label). With tracing on, a unary RPC gets a server span that continues the
client's `traceparent` (tracing.py); health checks get none. Bidirectional methods
(server reflection) pass through untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from distill_core import metrics, tracing

_CODE_NAMES = {c.value[0]: c.name for c in grpc.StatusCode}
_UNTRACED = contextlib.nullcontext()
UNTRACED_SERVICES = frozenset({"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"})


def code_name(code: Any, default: str) -> str:
    """The name of a status code as grpc.aio reports it (enum, int or None)."""
    if code is None:
        return default
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):
        return _CODE_NAMES.get(code, default)
    return default


def rpc_type(handler: grpc.RpcMethodHandler) -> str:
    if handler.unary_unary is not None:
        return "unary"
    if handler.unary_stream is not None:
        return "server_stream"
    if handler.stream_unary is not None:
        return "client_stream"
    return "bidi_stream"


def split_method(full_method: str) -> tuple[str, str]:
    """("distill.v1.Pipeline", "CreateTask") of "/distill.v1.Pipeline/CreateTask"."""
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


class _Observed:
    """The metric children of one method, looked up once."""

    def __init__(self, kind: str, full_method: str) -> None:
        service, method = split_method(full_method)
        self.full_method = full_method
        self.labels = (kind, service, method)
        self.started = metrics.RPC_STARTED.labels(*self.labels)
        self.seconds = metrics.RPC_SECONDS.labels(*self.labels)
        self.sent = metrics.RPC_MSG_SENT.labels(*self.labels)
        # Probes call Health every few seconds: counted, but no span (they would drown the traces).
        self.traced = service not in UNTRACED_SERVICES

    def handled(self, code: str, t0: float) -> None:
        self.seconds.observe(time.perf_counter() - t0)
        metrics.child(metrics.RPC_HANDLED, *self.labels, code).inc()


def _unary(inner: Callable[..., Any], obs: _Observed) -> Callable[..., Awaitable[Any]]:
    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
        obs.started.inc()
        t0 = time.perf_counter()
        code = "UNKNOWN"
        traced = obs.traced and tracing.enabled()
        md = context.invocation_metadata() if traced else None
        with tracing.server_span(obs.full_method, md) if traced else _UNTRACED as sp:
            try:
                result = inner(request, context)
                if inspect.isawaitable(result):
                    result = await result
                code = code_name(context.code(), "OK")
                return result
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            except Exception:
                code = code_name(context.code(), "UNKNOWN")  # abort() set it; else grpc answers UNKNOWN
                raise
            finally:
                obs.handled(code, t0)
                tracing.end_rpc(sp, code)

    return behavior


def _server_stream(inner: Callable[..., Any], obs: _Observed) -> Callable[..., AsyncIterator[Any]]:
    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        obs.started.inc()
        t0 = time.perf_counter()
        code = "UNKNOWN"
        try:
            result = inner(request, context)
            if hasattr(result, "__aiter__"):
                async for message in result:
                    obs.sent.inc()
                    yield message
            elif inspect.isawaitable(result):
                await result  # a handler that writes with context.write()
            code = code_name(context.code(), "OK")
        except (asyncio.CancelledError, GeneratorExit):
            code = "CANCELLED"
            raise
        except Exception:
            code = code_name(context.code(), "UNKNOWN")
            raise
        finally:
            obs.handled(code, t0)

    return behavior


def observe_handler(handler: grpc.RpcMethodHandler, full_method: str) -> grpc.RpcMethodHandler:
    """The same handler, reporting its RPCs (bidirectional and client streams unchanged)."""
    kind = rpc_type(handler)
    obs = _Observed(kind, full_method)
    des, ser = handler.request_deserializer, handler.response_serializer
    if kind == "unary":
        return grpc.unary_unary_rpc_method_handler(
            _unary(handler.unary_unary, obs), request_deserializer=des, response_serializer=ser
        )
    if kind == "server_stream":
        return grpc.unary_stream_rpc_method_handler(
            _server_stream(handler.unary_stream, obs), request_deserializer=des, response_serializer=ser
        )
    return handler


class TelemetryInterceptor(grpc.aio.ServerInterceptor):
    """Counts, latencies and spans of every RPC the server has a method for."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:  # no such method: grpc answers UNIMPLEMENTED, we add no label
            return handler
        method = handler_call_details.method
        hit = self._wrapped.get(method)
        if hit is not None and hit[0] is handler:
            return hit[1]
        wrapped = observe_handler(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped
