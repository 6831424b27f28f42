"""The gateway's memory of verified API keys (auth.KeyCache) on a real PostgreSQL: it keeps a
key only while it listens for key changes, and any revocation, change of expiry or scope,
or deletion drops everything it kept, whichever tool made the change."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from distill_core import apikeys
from distill_core.db.session import driver_dsn, make_engine
from distill_core.errors import Unauthenticated
from distill_gateway.auth import Authenticator, KeyCache
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    e = make_engine(database_url)
    yield e
    await e.dispose()


@contextlib.asynccontextmanager
async def listening(database_url: str, ttl: float = 30.0, ping_every: float = 2.0) -> AsyncIterator[KeyCache]:
    cache = KeyCache(driver_dsn(database_url), ttl, ping_every=ping_every)
    runner = asyncio.create_task(cache.run())
    try:
        await until(lambda: cache.listening, "the cache never started listening")
        yield cache
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def until(cond: object, what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.01)


async def new_key(engine: AsyncEngine, **kw: object) -> str:
    async with engine.begin() as conn:
        key, _ = await apikeys.create_key(conn, f"kc-{uuid.uuid4().hex[:8]}", **kw)  # type: ignore[arg-type]
    return key


async def sql(engine: AsyncEngine, statement: str, **params: object) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(statement), params)


async def test_a_kept_key_is_dropped_the_moment_any_key_is_revoked(engine: AsyncEngine, database_url: str) -> None:
    async with listening(database_url) as cache:
        auth = Authenticator(engine, cache)
        key, other = await new_key(engine), await new_key(engine)
        caller = await auth.check(key)
        assert cache.get(apikeys.digest(key)) == caller, "a verified key was not kept"
        # Revoked with plain SQL (any tool, any gateway replica): the notification drops it.
        await sql(engine, "UPDATE api_keys SET revoked_at = now() WHERE prefix = :p", p=apikeys.prefix_of(key))
        await until(lambda: cache.get(apikeys.digest(key)) is None, "a revoked key was still kept")
        with pytest.raises(Unauthenticated):
            await auth.check(key)
        assert cache.get(apikeys.digest(key)) is None, "a refused key was kept"
        # Any change drops every key, not just the changed one.
        await auth.check(other)
        assert cache.get(apikeys.digest(other)) is not None
        gen = cache.generation
        await sql(
            engine,
            "UPDATE api_keys SET expires_at = now() + interval '1 hour' WHERE prefix = :p",
            p=apikeys.prefix_of(other),
        )
        await until(lambda: cache.generation > gen, "an expiry change sent no notification")
        assert cache.get(apikeys.digest(other)) is None


async def test_use_of_a_key_does_not_drop_the_kept_keys(engine: AsyncEngine, database_url: str) -> None:
    async with listening(database_url) as cache:
        key = await new_key(engine)
        caller = await Authenticator(engine, cache).check(key)
        gen = cache.generation
        # What every gateway writes once a minute per key must not empty every cache.
        await sql(engine, "UPDATE api_keys SET last_used_at = now() - interval '1 day' WHERE id = :i", i=caller.key_id)
        async with engine.connect() as conn:
            await apikeys.touch(conn, caller.key_id)
            await conn.commit()
        await asyncio.sleep(0.3)
        assert cache.generation == gen and cache.get(apikeys.digest(key)) == caller


async def test_a_check_that_read_before_a_change_keeps_nothing(engine: AsyncEngine, database_url: str) -> None:
    async with listening(database_url) as cache:
        key = await new_key(engine)
        async with engine.connect() as conn:
            found = await apikeys.verify_row(conn, key)
        assert found is not None
        started = cache.generation  # the check began here...
        await sql(engine, "UPDATE api_keys SET revoked_at = now() WHERE prefix = :p", p=apikeys.prefix_of(key))
        await until(lambda: cache.generation > started, "no notification")
        cache.put(apikeys.digest(key), found[0], found[1], started)  # ...and ends after the revocation
        assert cache.get(apikeys.digest(key)) is None, "a key read before its revocation was kept"


async def test_a_key_is_kept_no_longer_than_it_lives(engine: AsyncEngine, database_url: str) -> None:
    async with listening(database_url, ttl=30.0) as cache:
        key = await new_key(engine, expires_at=datetime.now(UTC) + timedelta(seconds=0.6))
        auth = Authenticator(engine, cache)
        await auth.check(key)
        assert cache.get(apikeys.digest(key)) is not None
        await asyncio.sleep(0.8)
        assert cache.get(apikeys.digest(key)) is None
        with pytest.raises(Unauthenticated):
            await auth.check(key)


async def test_without_the_channel_nothing_is_kept(engine: AsyncEngine, database_url: str) -> None:
    async with listening(database_url, ping_every=0.2) as cache:
        auth = Authenticator(engine, cache)
        key = await new_key(engine)
        await auth.check(key)
        # The listening connection dies (a database restart, a network cut): trust ends at once.
        await sql(
            engine,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'distill-gateway-keys'",
        )
        await until(lambda: not cache.listening, "the lost channel went unnoticed")
        assert cache.get(apikeys.digest(key)) is None
        caller = await auth.check(key)  # still served, from the database
        # Back once it listens again, with nothing from before.
        await until(lambda: cache.listening, "the cache did not listen again", timeout=10)
        await auth.check(key)
        assert cache.get(apikeys.digest(key)) == caller


async def test_a_database_without_the_trigger_gets_every_key_checked(fresh_database_url: str) -> None:
    # A gateway newer than the database's migrations would wait in vain for notifications.
    engine = make_engine(fresh_database_url)
    try:
        await sql(engine, "DROP TRIGGER api_keys_changed ON api_keys")
        cache = KeyCache(driver_dsn(fresh_database_url), 30.0)
        runner = asyncio.create_task(cache.run())
        try:
            key = await new_key(engine)
            auth = Authenticator(engine, cache)
            await asyncio.sleep(1.0)
            assert not cache.listening
            await auth.check(key)
            assert cache.get(apikeys.digest(key)) is None, "a key was kept without a way to hear of its revocation"
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
    finally:
        await engine.dispose()
