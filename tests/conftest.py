"""Shared fixtures: real NATS JetStream and real PostgreSQL, started from the wheels.

Set DISTILL_TEST_NATS_URL / DISTILL_TEST_DATABASE_URL to use servers you run yourself.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="distill-test-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server(tmp_root: Path) -> Iterator[object]:
    from distill_cli.embedded import NatsServer

    if os.environ.get("DISTILL_TEST_NATS_URL"):
        yield type("External", (), {"url": os.environ["DISTILL_TEST_NATS_URL"]})()
        return
    srv = NatsServer(tmp_root / "nats").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def pg_server(tmp_root: Path) -> Iterator[object]:
    from distill_cli.embedded import PostgresServer

    if os.environ.get("DISTILL_TEST_DATABASE_URL"):
        yield type("External", (), {"url": os.environ["DISTILL_TEST_DATABASE_URL"]})()
        return
    srv = PostgresServer(tmp_root / "pg", fsync=False).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def nats_url(nats_server: object) -> str:
    return nats_server.url  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def database_url(pg_server: object) -> str:
    from distill_core.db.migrate import upgrade

    url = pg_server.url  # type: ignore[attr-defined]
    upgrade(url)
    return url


@pytest.fixture
async def fresh_database_url(database_url: str) -> Any:
    """A database of its own on the session's PostgreSQL, migrated, dropped afterwards: for
    tests that count what a whole stack did (its outbox relay and janitor see every row of
    their database, so rows other tests left behind would be counted too)."""
    import uuid

    import asyncpg
    from distill_core.db.migrate import upgrade_async

    base = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"distill_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = database_url.rsplit("/", 1)[0] + f"/{name}"
    await upgrade_async(url)
    yield url
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
