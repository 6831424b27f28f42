"""`authorization: Bearer <key>` on every public RPC."""

from __future__ import annotations

import grpc
from distill_core import apikeys
from distill_core.apikeys import Caller
from distill_core.errors import Unauthenticated
from sqlalchemy.ext.asyncio import AsyncEngine

UNAUTHENTICATED_MESSAGE = "missing or invalid API key (send 'authorization: Bearer <key>')"


def bearer_token(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str | None:
    for k, v in metadata or ():
        if k.lower() == "authorization":
            value = v.decode() if isinstance(v, bytes) else v
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class Authenticator:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def check(self, token: str | None) -> Caller:
        """The caller, or Unauthenticated (never saying whether the key was unknown, revoked or expired)."""
        if not token:
            raise Unauthenticated(UNAUTHENTICATED_MESSAGE)
        async with self.engine.connect() as conn:
            caller = await apikeys.verify(conn, token)
        if caller is None:
            raise Unauthenticated(UNAUTHENTICATED_MESSAGE)
        return caller

    async def __call__(self, context: grpc.aio.ServicerContext) -> Caller:
        return await self.check(bearer_token(context.invocation_metadata()))
