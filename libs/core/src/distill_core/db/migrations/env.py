"""Alembic environment: async engine, advisory lock so concurrent migrators wait."""

from __future__ import annotations

import asyncio

from alembic import context
from distill_core.db.models import Base
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config
target_metadata = Base.metadata
LOCK_ID = 0x64697374  # "dist"


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.execute(text(f"SELECT pg_advisory_xact_lock({LOCK_ID})"))
        context.run_migrations()


async def _online() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url"))
    async with engine.connect() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_online())
    else:  # called from inside a loop's worker thread: run in a fresh loop
        import threading

        t = threading.Thread(target=lambda: asyncio.run(_online()))
        t.start()
        t.join()
