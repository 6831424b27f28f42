"""What every client command shares: the gateway and key options, --json, exit codes, errors."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from distill.v1 import task_pb2
from distill_client import AsyncClient, DistillError, Unauthenticated, Unavailable
from google.protobuf import json_format
from google.protobuf.message import Message
from rich.console import Console

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

# 0: success; 1: failure (or an error); 2: usage error (typer's own); 3: partial failure.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3

Gateway = typer.Option(
    None, "--gateway", envvar="DISTILL_GATEWAY", help="HOST:PORT of the gateway.", show_default=False
)
ApiKey = typer.Option(None, "--api-key", envvar="DISTILL_API_KEY", help="API key.", show_default=False)
AsJson = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")

T = TypeVar("T")


def tls_options(
    tls: bool = typer.Option(
        False, "--tls", envvar="DISTILL_TLS", help="Talk TLS to the gateway (system CAs unless --tls-ca)."
    ),
    tls_ca: Path = typer.Option(
        None, "--tls-ca", envvar="DISTILL_TLS_CA_FILE", help="PEM CA that signed the gateway's certificate (TLS on)."
    ),
    tls_cert: Path = typer.Option(
        None, "--tls-cert", envvar="DISTILL_TLS_CLIENT_CERT_FILE", help="PEM client certificate (mTLS)."
    ),
    tls_key: Path = typer.Option(None, "--tls-key", envvar="DISTILL_TLS_CLIENT_KEY_FILE", help="Its private key."),
) -> None:
    """Options before the command (`distill --tls-ca ca.pem submit ...`), for every client command."""
    given = {
        "DISTILL_TLS": "true" if tls else None,
        "DISTILL_TLS_CA_FILE": tls_ca,
        "DISTILL_TLS_CLIENT_CERT_FILE": tls_cert,
        "DISTILL_TLS_CLIENT_KEY_FILE": tls_key,
    }
    for var, value in given.items():
        if value:
            os.environ[var] = str(value)  # read by distill_client.config.tls_from_env


def exit_code(task: task_pb2.Task) -> int:
    """0 succeeded (or nothing failed yet), 3 partially failed, 1 failed or cancelled."""
    if task.status == task_pb2.TASK_STATUS_PARTIALLY_FAILED:
        return EXIT_PARTIAL
    if task.status in (task_pb2.TASK_STATUS_FAILED, task_pb2.TASK_STATUS_CANCELLED):
        return EXIT_FAILED
    return EXIT_OK


def as_dict(msg: Message) -> dict[str, Any]:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def print_json(value: Any, *, lines: bool = False) -> None:
    """JSON on stdout (one line per value with `lines`, for streams)."""
    if isinstance(value, Message):
        value = as_dict(value)
    print(json.dumps(value, separators=(",", ":")) if lines else json.dumps(value, indent=2), flush=True)


def usage_error(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(EXIT_USAGE)


def run(gateway: str | None, api_key: str | None, body: Callable[[AsyncClient], Awaitable[T]]) -> T:
    """Run `body(client)`; a failed call prints what went wrong and exits 1 (2 for a bad argument)."""

    async def go() -> T:
        async with AsyncClient(gateway, api_key) as client:
            try:
                return await body(client)
            except Unavailable as e:
                raise DistillError(
                    f"cannot reach the gateway at {client.target} ({e.message}); is `distill up` running? "
                    "(--gateway / DISTILL_GATEWAY pick another)",
                    e.code,
                ) from None

    try:
        return asyncio.run(go())
    except Unauthenticated as e:
        err.print(f"[red]{e.code.name}[/red]: {e.message} (give --api-key or DISTILL_API_KEY)")
        raise typer.Exit(EXIT_FAILED) from None
    except DistillError as e:
        err.print(f"[red]{e.code.name}[/red]: {e.message}")
        raise typer.Exit(EXIT_FAILED) from None
    except ValueError as e:  # a bad enum name or duration given to the client library
        raise usage_error(str(e)) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def parse_labels(labels: list[str]) -> dict[str, str]:
    bad = [lb for lb in labels if "=" not in lb]
    if bad:
        raise usage_error(f"--label must be KEY=VALUE, not {bad[0]!r}")
    return dict(lb.split("=", 1) for lb in labels)


def stdin_is_interactive() -> bool:
    return sys.stdin.isatty()


async def collect(
    fetch: Callable[[int, str], Awaitable[Any]], field: str, limit: int, everything: bool
) -> tuple[list[Any], int]:
    """Rows of a list RPC: the first `limit`, or `everything`, page after page; and total_size.

    `fetch(page_size, page_token)` returns one page; `field` names its repeated field.
    """
    first = await fetch(min(limit, 1000), "")
    rows: list[Any] = list(getattr(first, field))
    token = first.next_page_token
    while token and (everything or len(rows) < limit):
        page = await fetch(1000 if everything else min(limit - len(rows), 1000), token)
        rows += list(getattr(page, field))
        token = page.next_page_token
    return (rows if everything else rows[:limit]), int(first.total_size)
