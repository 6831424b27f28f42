"""Decorators for servicer methods: authenticate the caller, check what every call must pass,
map errors to gRPC status.

Every public RPC goes through `rpc` / `rpc_stream` (the HTTP side calls the same
methods): the API key first (UNAUTHENTICATED), then the admin scope where the method
needs it (PERMISSION_DENIED), then the request size (RESOURCE_EXHAUSTED). Health and
reflection are served by grpc_server.py and need no key.

DistillErrors become their canonical status; a database or NATS outage becomes
UNAVAILABLE (the client should retry); anything else is logged with its stack and
answered INTERNAL without details (they might carry data that is not the caller's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import nats.errors
from distill_core import errors
from distill_core.apikeys import Caller
from distill_core.db.session import is_unavailable
from distill_core.errors import DistillError, PermissionDenied
from distill_core.logging import get_logger

from distill_gateway.limits import check_request_size

log = get_logger(__name__)


def as_distill_error(e: Exception, method: str) -> DistillError:
    if isinstance(e, DistillError):
        return e
    if is_unavailable(e):
        return errors.DatabaseUnavailable("the database is unavailable; try again shortly")
    if isinstance(e, nats.errors.Error | TimeoutError):
        return errors.RetryableError("the message system is unavailable; try again shortly", code="NATS_UNAVAILABLE")
    log.exception("unexpected error in an RPC", method=method)
    return DistillError("internal error (logged on the server)", code="INTERNAL")


async def admit(self: Any, request: Any, context: grpc.aio.ServicerContext, method: str, admin: bool) -> Caller:
    """The caller of an RPC, once it has passed the checks every call must pass."""
    caller: Caller = await self.auth(context)
    if admin and not caller.admin:
        raise PermissionDenied(
            f"{method} shows the whole deployment and needs an admin API key "
            "(an operator makes one with `distill keys create --tenant NAME --admin`)"
        )
    limit = getattr(getattr(self, "settings", None), "max_request_bytes", None)
    if limit and request is not None:  # a client stream's messages are checked one by one
        check_request_size(request, limit)
    return caller


def rpc(fn: Any = None, *, admin: bool = False) -> Any:
    """A unary method `fn(self, request, context, caller)`; `self.auth(context)` gives the caller.

    `@rpc(admin=True)`: only for admin keys (deployment-wide views).
    """

    def decorate(fn: Any) -> Any:
        async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                caller = await admit(self, request, context, fn.__name__, admin)
                return await fn(self, request, context, caller)
            except Exception as e:
                await errors.abort(context, as_distill_error(e, fn.__name__))

        return _named(wrapper, fn)

    return decorate(fn) if fn is not None else decorate


def rpc_stream(fn: Any) -> Any:
    """A server-streaming method: an async generator `fn(self, request, context, caller)`."""

    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            caller = await admit(self, request, context, fn.__name__, False)
            async for ev in fn(self, request, context, caller):
                yield ev
        except Exception as e:
            await errors.abort(context, as_distill_error(e, fn.__name__))

    return _named(wrapper, fn)


def rpc_client_stream(fn: Any) -> Any:
    """A client-streaming method `fn(self, requests, context, caller)`: the caller is admitted
    (API key) before a single message of the stream is read."""

    async def wrapper(self: Any, requests: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            caller = await admit(self, None, context, fn.__name__, False)
            return await fn(self, requests, context, caller)
        except Exception as e:
            await errors.abort(context, as_distill_error(e, fn.__name__))

    return _named(wrapper, fn)


def _named(wrapper: Callable[..., Any], fn: Callable[..., Any]) -> Any:
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
