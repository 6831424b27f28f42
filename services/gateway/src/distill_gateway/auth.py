"""`authorization: Bearer <key>` on every public RPC.

Every refusal is the same UNAUTHENTICATED message, whatever was wrong (no header, another
scheme, a malformed, unknown, revoked or expired key): a caller learns nothing about
which keys exist. Keys are checked against PostgreSQL on every call, so a revoked key
stops working at once on every replica.
"""

from __future__ import annotations

import time
import uuid

import grpc
from distill_core import apikeys
from distill_core.apikeys import Caller
from distill_core.errors import Unauthenticated
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine

REFUSED = Counter("distill_gateway_auth_refused_total", "RPCs refused for a missing or invalid API key.")

UNAUTHENTICATED_MESSAGE = "missing or invalid API key (send 'authorization: Bearer <key>')"
TOUCH_EVERY = 60.0  # seconds between two last_used_at updates of one key by one process


def bearer_token(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str | None:
    """The token of the first `authorization` header when it is `Bearer <token>`, else None."""
    for k, v in metadata or ():
        if k.lower() == "authorization":
            value = v.decode(errors="replace") if isinstance(v, bytes) else v
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class Authenticator:
    def __init__(self, engine: AsyncEngine) -> None:
        # Autocommit: a key check is one statement, no BEGIN/ROLLBACK round trips around it.
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._touched: dict[uuid.UUID, float] = {}

    async def check(self, token: str | None) -> Caller:
        """The caller, or Unauthenticated (never saying whether the key was unknown, revoked or expired)."""
        if not token:
            REFUSED.inc()
            raise Unauthenticated(UNAUTHENTICATED_MESSAGE)
        async with self.engine.connect() as conn:
            caller = await apikeys.verify(conn, token)
            if caller is not None and self._due(caller.key_id):
                await apikeys.touch(conn, caller.key_id)
                await conn.commit()
        if caller is None:
            REFUSED.inc()
            raise Unauthenticated(UNAUTHENTICATED_MESSAGE)
        return caller

    def _due(self, key_id: uuid.UUID) -> bool:
        now = time.monotonic()
        if now - self._touched.get(key_id, -TOUCH_EVERY) < TOUCH_EVERY:
            return False
        if len(self._touched) > 100_000:
            self._touched.clear()
        self._touched[key_id] = now
        return True

    async def __call__(self, context: grpc.aio.ServicerContext) -> Caller:
        return await self.check(bearer_token(context.invocation_metadata()))
