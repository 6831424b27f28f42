"""`distill keys`: API keys per tenant (talks to the database directly, like an admin tool)."""

from __future__ import annotations

import asyncio
import json
import os
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


@app.command("create")
def create(
    tenant: str = typer.Option(..., "--tenant", help="Tenant name (created if new)."),
    name: str = typer.Option("", "--name", help="A note to recognise the key by."),
    data_dir: Path = DataDir,
) -> None:
    """Print a new API key for TENANT (shown once; store it).

    Example: distill keys create --tenant alice
    """
    from distill_core import apikeys

    try:
        key, _ = _run(data_dir, lambda conn: apikeys.create_key(conn, tenant, name=name))
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
    t = Table("prefix", "tenant", "name", "created", "expires", "revoked")
    for r in rows:
        t.add_row(
            r["prefix"] + "…",
            r["tenant"],
            r["name"] or "",
            f"{r['created_at']:%Y-%m-%d %H:%M}",
            f"{r['expires_at']:%Y-%m-%d}" if r["expires_at"] else "",
            "yes" if r["revoked_at"] else "",
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
