"""Decorators for servicer methods: authenticate the caller, map DistillErrors to gRPC status."""

from __future__ import annotations

from typing import Any

import grpc
from distill_core import errors
from distill_core.errors import DistillError


def rpc(fn: Any) -> Any:
    """A unary method `fn(self, request, context, caller)`; `self.auth(context)` gives the caller."""

    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            caller = await self.auth(context)
            return await fn(self, request, context, caller)
        except DistillError as e:
            await errors.abort(context, e)

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
        except DistillError as e:
            await errors.abort(context, e)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
