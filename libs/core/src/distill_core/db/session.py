"""One async engine (pool) per process."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def async_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+asyncpg:// and return the asyncpg form."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        scheme = "postgresql+asyncpg"
    # asyncpg does not know libpq's sslmode; translate the common case.
    query = dict(parse_qsl(parts.query))
    if "sslmode" in query and scheme == "postgresql+asyncpg":
        query["ssl"] = query.pop("sslmode")
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def make_engine(url: str, *, pool_size: int = 10, **kw: Any) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": kw.pop("application_name", "distill")}},
        **kw,
    )


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


async def wait_for_database(engine: AsyncEngine, timeout: float = 60.0) -> None:
    """Block until the database answers (used at start-up)."""
    from sqlalchemy import text

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.1
    while True:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def is_unavailable(e: BaseException) -> bool:
    """Connection-level database trouble worth waiting out (not a bug in a statement)."""
    import asyncpg
    from sqlalchemy import exc as saexc

    if isinstance(e, saexc.DBAPIError) and e.connection_invalidated:
        return True
    orig = getattr(e, "orig", None)
    cause = getattr(orig, "__cause__", None) or orig
    transient = (
        OSError,
        ConnectionError,
        asyncio.TimeoutError,
        asyncpg.exceptions.CannotConnectNowError,
        asyncpg.exceptions.ConnectionDoesNotExistError,
        asyncpg.exceptions.InterfaceError,
        asyncpg.exceptions.AdminShutdownError,
        asyncpg.exceptions.CrashShutdownError,
        asyncpg.exceptions.SerializationError,
        asyncpg.exceptions.DeadlockDetectedError,
        asyncpg.exceptions.TooManyConnectionsError,
    )
    return (
        isinstance(e, transient)
        or isinstance(cause, transient)
        or isinstance(e, saexc.OperationalError | saexc.InterfaceError | saexc.TimeoutError)
    )
