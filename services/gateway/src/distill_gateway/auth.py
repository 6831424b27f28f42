"""`authorization: Bearer <key>` on every public RPC.

Every refusal is the same UNAUTHENTICATED message, whatever was wrong (no header, another
scheme, a malformed, unknown, revoked or expired key): a caller learns nothing about
which keys exist.

Keys are checked against PostgreSQL. A gateway then keeps a key it has verified for
DISTILL_AUTH_CACHE_SECONDS (KeyCache), but only while it listens on PostgreSQL's
`distill_api_keys` channel: any revocation, change of expiry or scope, or deletion of a
key notifies every gateway (a trigger, migration 0008), which then forgets every key it
kept. A revoked key stops working on every replica within milliseconds of the commit. While
the listening connection is down, nothing is kept and every call is checked again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import grpc
from distill_core import apikeys
from distill_core.apikeys import Caller
from distill_core.errors import Unauthenticated
from distill_core.logging import get_logger
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine

REFUSED = Counter("distill_gateway_auth_refused_total", "RPCs refused for a missing or invalid API key.")

UNAUTHENTICATED_MESSAGE = "missing or invalid API key (send 'authorization: Bearer <key>')"
TOUCH_EVERY = 60.0  # seconds between two last_used_at updates of one key by one process
CHANNEL = "distill_api_keys"  # notified by the api_keys_changed trigger (migration 0008)
MAX_KEPT = 10_000
NO_TRIGGER_RETRY = 30.0  # seconds between two looks for the trigger of migration 0008
_TRIGGER_EXISTS = (
    "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'api_keys_changed' AND tgrelid = 'api_keys'::regclass)"
)

log = get_logger(__name__)


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


class KeyCache:
    """Keys verified in the last `ttl` seconds, by the SHA-256 of the key, trusted only while
    `run()` listens on CHANNEL: a notification drops them all. A key that expires sooner is
    kept only until it expires; unknown or refused keys are never kept.

    `generation` counts the notifications: a check that read the database before a change
    and finishes after it (`put` with the generation it started with) keeps nothing.
    """

    def __init__(self, dsn: str, ttl: float, *, ping_every: float = 2.0) -> None:
        self.dsn = dsn
        self.ttl = ttl
        self.ping_every = ping_every
        self.generation = 0
        self.listening = False
        self._kept: dict[str, tuple[Caller, float]] = {}

    def get(self, key_digest: str) -> Caller | None:
        if not self.listening:
            return None
        hit = self._kept.get(key_digest)
        if hit is None:
            return None
        if hit[1] <= time.monotonic():
            self._kept.pop(key_digest, None)
            return None
        return hit[0]

    def put(self, key_digest: str, caller: Caller, expires_at: datetime | None, generation: int) -> None:
        if not self.listening or generation != self.generation or self.ttl <= 0:
            return
        keep = self.ttl
        if expires_at is not None:
            keep = min(keep, (expires_at - datetime.now(UTC)).total_seconds())
        if keep <= 0:
            return
        if len(self._kept) >= MAX_KEPT:
            self._kept.clear()
        self._kept[key_digest] = (caller, time.monotonic() + keep)

    def forget(self, *_: object) -> None:
        """Drop every kept key (a key changed somewhere, or the channel was lost)."""
        self.generation += 1
        self._kept.clear()

    def _stop_trusting(self) -> None:
        self.listening = False
        self.forget()

    async def run(self) -> None:
        """Listen on CHANNEL for as long as the gateway runs, reconnecting after a loss."""
        delay = 0.5
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self.dsn, timeout=10, server_settings={"application_name": "distill-gateway-keys"}
                )
                if not await conn.fetchval(_TRIGGER_EXISTS):
                    # A database not migrated yet (0008) would never notify: keep nothing.
                    log.warning("api_keys has no change trigger (run the migrations); API keys are not kept")
                    await asyncio.sleep(NO_TRIGGER_RETRY)
                    continue
                await conn.add_listener(CHANNEL, self.forget)
                self.forget()  # anything verified before the LISTEN took effect
                self.listening = True
                delay = 0.5
                # A ping bounds how long a silently dead connection goes unnoticed.
                while True:
                    await asyncio.sleep(self.ping_every)
                    await conn.fetchval("SELECT 1", timeout=self.ping_every)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if self.listening:
                    log.warning("lost the API key change channel; checking every key again", error=str(e)[:200])
            finally:
                self._stop_trusting()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


class Authenticator:
    def __init__(self, engine: AsyncEngine, keys: KeyCache | None = None) -> None:
        # Autocommit: a key check is one statement, no BEGIN/ROLLBACK round trips around it.
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.keys = keys
        self._touched: dict[uuid.UUID, float] = {}

    async def check(self, token: str | None) -> Caller:
        """The caller, or Unauthenticated (never saying whether the key was unknown, revoked or expired)."""
        if not token:
            REFUSED.inc()
            raise Unauthenticated(UNAUTHENTICATED_MESSAGE)
        keys = self.keys
        key_digest = apikeys.digest(token)
        if keys is not None and (kept := keys.get(key_digest)) is not None:
            if self._due(kept.key_id):
                async with self.engine.connect() as conn:
                    await apikeys.touch(conn, kept.key_id)
            return kept
        generation = keys.generation if keys is not None else 0
        async with self.engine.connect() as conn:
            found = await apikeys.verify_row(conn, token)
            if found is not None and self._due(found[0].key_id):
                await apikeys.touch(conn, found[0].key_id)
        if found is None:
            REFUSED.inc()
            raise Unauthenticated(UNAUTHENTICATED_MESSAGE)
        caller, expires_at = found
        if keys is not None:
            keys.put(key_digest, caller, expires_at, generation)
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
