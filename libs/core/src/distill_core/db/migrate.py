"""Run Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from distill_core.db.session import async_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (safe to run from several processes)."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, url, revision)


if __name__ == "__main__":  # python -m distill_core.db.migrate (the Kubernetes migration Job)
    import os
    import sys

    if not os.environ.get("DISTILL_DATABASE_URL"):
        sys.exit("distill_core.db.migrate: set DISTILL_DATABASE_URL to the PostgreSQL URL to migrate")
    upgrade(os.environ["DISTILL_DATABASE_URL"])
    print("distill_core.db.migrate: database is at the latest revision", file=sys.stderr)
