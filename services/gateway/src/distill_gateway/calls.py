"""Decorators for servicer methods: authenticate the caller, map errors to gRPC status.

DistillErrors become their canonical status; a database or NATS outage becomes
UNAVAILABLE (the client should retry); anything else is logged with its stack and
answered INTERNAL without details (they might carry data that is not the caller's).
"""

from __future__ import annotations

from typing import Any

import grpc
import nats.errors
from distill_core import errors
from distill_core.db.session import is_unavailable
from distill_core.errors import DistillError
from distill_core.logging import get_logger

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


def rpc(fn: Any) -> Any:
    """A unary method `fn(self, request, context, caller)`; `self.auth(context)` gives the caller."""

    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            caller = await self.auth(context)
            return await fn(self, request, context, caller)
        except Exception as e:
            await errors.abort(context, as_distill_error(e, fn.__name__))

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def rpc_stream(fn: Any) -> Any:
    """A server-streaming method: an async generator `fn(self, request, context, caller)`."""

    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            caller = await self.auth(context)
            async for ev in fn(self, request, context, caller):
                yield ev
        except Exception as e:
            await errors.abort(context, as_distill_error(e, fn.__name__))

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
