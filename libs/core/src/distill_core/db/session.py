"""One async engine (pool) per process."""

from __future__ import annotations

import asyncio
import time
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


def driver_dsn(url: str) -> str:
    """The same database as a DSN for asyncpg.connect() itself (a connection outside the pool)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if "ssl" in query and "sslmode" not in query:
        query["sslmode"] = query.pop("ssl")
    return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), parts.fragment))


# A pooled connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE = 10.0


def make_engine(url: str, *, pool_size: int = 10, **kw: Any) -> AsyncEngine:
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": kw.pop("application_name", "distill")}},
        **kw,
    )
    _ping_when_idle(engine, PING_AFTER_IDLE)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle: float) -> None:
    """Check a pooled connection before use without a round trip, and ping it only when it
    sat idle for `idle` seconds.

    SQLAlchemy's pool_pre_ping pings on every checkout, and its asyncpg ping is three round
    trips (BEGIN, an empty query, ROLLBACK): most of the database traffic of a one-URL
    CreateTask and of a stage's per-item lookups. A server that restarted or died closed
    its sockets, which asyncpg has noticed by the time the connection is taken again
    (`is_closed()`, no I/O): such a connection is replaced, as pre-ping would. What that
    cannot see (a connection cut silently, say by a firewall) is left to the ping after
    `idle` seconds and, failing that, to the first statement, whose disconnect error makes
    SQLAlchemy discard the pool; callers treat it as the database being unavailable.
    """
    from sqlalchemy import event, exc

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(dbapi_conn: Any, record: Any) -> None:
        record.info["distill_idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        driver = getattr(dbapi_conn, "_connection", None)
        if driver is not None and driver.is_closed():
            raise exc.DisconnectionError("the database closed the connection")  # the pool takes a new one
        since = record.info.get("distill_idle_since")
        if since is not None and time.monotonic() - since > idle:
            try:
                dbapi_conn.ping()
            except Exception as e:
                raise exc.DisconnectionError(str(e)) from e


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
