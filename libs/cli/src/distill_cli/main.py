"""The `distill` command line."""

from __future__ import annotations

from pathlib import Path

import typer

from distill_cli import admin, common, keys, report, tasks

app = typer.Typer(
    name="distill",
    help="Distill turns links into knowledge: submit URLs, watch them being fetched, summarised and exported.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.callback()(common.tls_options)
app.add_typer(keys.app, name="keys")
tasks.register(app)
report.register(app)
admin.register(app)


@app.command()
def up(
    data_dir: Path = typer.Option(
        None, "--data-dir", help="Where embedded NATS/PostgreSQL and exports live [default: ~/.local/share/distill]."
    ),
    grpc_port: int = typer.Option(50051, "--grpc-port", help="Gateway port (0: any free port)."),
    allow_private_networks: bool = typer.Option(
        False, "--allow-private-networks", help="Let the parser fetch loopback/private addresses (development)."
    ),
) -> None:
    """Run the whole stack in the foreground (embedded NATS and PostgreSQL unless configured).

    Prints [bold]distill: ready gateway=HOST:PORT[/bold] when every service is SERVING.
    Ctrl-C stops everything; running it again on the same --data-dir resumes.

    Examples:

        distill up
        distill up --data-dir ./data --grpc-port 0 --allow-private-networks
        DISTILL_NATS_URL=nats://nats:4222 DISTILL_DATABASE_URL=postgresql://... distill up
    """
    from distill_cli.up import run_up

    raise typer.Exit(run_up(data_dir, grpc_port, allow_private_networks))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
