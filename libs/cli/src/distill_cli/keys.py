"""`distill keys`: API keys per tenant (talks to the database directly, like an admin tool)."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from distill_cli import vapid

app = typer.Typer(help="Create, list and revoke API keys; make VAPID keys for Web Push.", no_args_is_help=True)
err = Console(stderr=True)


def _database_url(data_dir: Path | None) -> tuple[str, Any]:
    """DISTILL_DATABASE_URL, or the embedded PostgreSQL of the data dir (started for the command)."""
    url = os.environ.get("DISTILL_DATABASE_URL")
    if url:
        return url, None
    from distill_cli.embedded import PostgresServer
    from distill_cli.up import default_data_dir

    d = (data_dir or default_data_dir()).resolve()
    if not (d / "postgres" / "PG_VERSION").exists():
        err.print(f"[red]no database in {d}[/red]: run `distill up --data-dir {d}` once, or set DISTILL_DATABASE_URL")
        raise typer.Exit(1)
    pid = d / "postgres" / "postmaster.pid"
    if pid.exists():
        # `distill up` is running: use its server.
        lines = pid.read_text().splitlines()
        port = int(lines[3]) if len(lines) > 3 else 5432
        return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/distill", None
    pg = PostgresServer(d / "postgres").start()
    return pg.url, pg


def _run(data_dir: Path | None, fn: Any) -> Any:
    from distill_core.db.migrate import upgrade
    from distill_core.db.session import make_engine

    url, pg = _database_url(data_dir)
    try:
        upgrade(url)

        async def go() -> Any:
            engine = make_engine(url, pool_size=1)
            try:
                async with engine.begin() as conn:
                    return await fn(conn)
            finally:
                await engine.dispose()

        return asyncio.run(go())
    finally:
        if pg is not None:
            pg.stop()


DataDir = typer.Option(None, "--data-dir", help="Data dir of the embedded database (default as `distill up`).")


def expiry(value: str | None, now: datetime | None = None) -> datetime | None:
    """--expires: a duration from now ("90d", "12h", "1h30m") or a date / time ("2026-12-31",
    "2026-12-31T18:00:00+01:00"; UTC when no offset is given)."""
    if not value:
        return None
    from distill_client.names import seconds

    now = now or datetime.now(UTC)
    try:
        return now + timedelta(seconds=seconds(value))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"--expires {value!r}: give a duration (90d, 12h) or a date (2026-12-31)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@app.command("create")
def create(
    tenant: str = typer.Option(..., "--tenant", help="Tenant name (created if new)."),
    name: str = typer.Option("", "--name", help="A note to recognise the key by."),
    expires: str = typer.Option(
        None, "--expires", help="When the key stops working: a duration (90d, 12h) or a date (2026-12-31)."
    ),
    admin: bool = typer.Option(
        False, "--admin", help="Also allowed the deployment-wide views (workers, queue lanes) for operators."
    ),
    data_dir: Path = DataDir,
) -> None:
    """Print a new API key for TENANT (shown once; store it).

    Examples:

        distill keys create --tenant alice
        distill keys create --tenant alice --name laptop --expires 90d
        distill keys create --tenant ops --admin
    """
    from distill_core import apikeys

    try:
        until = expiry(expires)
        key, _ = _run(data_dir, lambda conn: apikeys.create_key(conn, tenant, name=name, expires_at=until, admin=admin))
    except ValueError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from None
    print(key)


@app.command("list")
def list_(
    tenant: str = typer.Option(None, "--tenant", help="Only this tenant's keys."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    data_dir: Path = DataDir,
) -> None:
    """List keys (prefixes only; keys themselves are never stored)."""
    from distill_core import apikeys

    rows = _run(data_dir, lambda conn: apikeys.list_keys(conn, tenant))
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    t = Table("id", "prefix", "tenant", "name", "admin", "created", "last used", "expires", "state")
    now = datetime.now(UTC)
    for r in rows:
        state = "revoked" if r["revoked_at"] else ("expired" if r["expires_at"] and r["expires_at"] <= now else "")
        t.add_row(
            str(r["id"]),
            r["prefix"] + "…",
            r["tenant"],
            r["name"] or "",
            "yes" if r["admin"] else "",
            f"{r['created_at']:%Y-%m-%d %H:%M}",
            f"{r['last_used_at']:%Y-%m-%d %H:%M}" if r["last_used_at"] else "",
            f"{r['expires_at']:%Y-%m-%d %H:%M}" if r["expires_at"] else "",
            state,
        )
    Console().print(t)


@app.command("revoke")
def revoke(
    key: str = typer.Argument(..., help="The key, its prefix or its id."),
    data_dir: Path = DataDir,
) -> None:
    """Revoke a key: every RPC with it is refused from now on."""
    from distill_core import apikeys

    n = _run(data_dir, lambda conn: apikeys.revoke(conn, key))
    if not n:
        err.print("[red]no such active key[/red]")
        raise typer.Exit(1)
    print(f"revoked {n} key(s)")


app.command("vapid")(vapid.vapid)
