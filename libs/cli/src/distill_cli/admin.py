"""Operator commands: workers, queues, stats, dlq list|replay|purge (all on the client library)."""

from __future__ import annotations

import typer
from distill.v1 import admin_pb2
from distill_client import AsyncClient

from distill_cli import render
from distill_cli.common import (
    EXIT_OK,
    ApiKey,
    AsJson,
    Gateway,
    as_dict,
    collect,
    err,
    out,
    print_json,
    run,
    stdin_is_interactive,
    usage_error,
)

dlq = typer.Typer(
    help="Dead letters: items that failed for good (list, replay, purge).",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def register(app: typer.Typer) -> None:
    app.add_typer(dlq, name="dlq")

    @app.command()
    def workers(
        stage: str = typer.Option(None, "--stage", "-s", help="Only this stage's workers (parse, ai, export)."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """Live stage workers: state, current items, processed and failed counts, last heartbeat.

        Examples:

            distill workers
            distill workers --stage parse --json
        """

        r = run(gateway, api_key, lambda client: client.list_workers(stage))
        if as_json:
            print_json(r)
        else:
            out.print(render.workers_table(list(r.workers), render.seconds_of(r.ttl)))

    @app.command()
    def queues(as_json: bool = AsJson, gateway: str = Gateway, api_key: str = ApiKey) -> None:
        """Job lanes per stage and priority: pending, in flight, redelivered, age of the oldest; dead letters.

        Example: distill queues
        """
        stats = run(gateway, api_key, lambda client: client.queue_stats())
        if as_json:
            print_json(stats)
        else:
            out.print(render.queues_table(stats))

    @app.command()
    def stats(
        window: str = typer.Option("24h", "--window", "-w", help="Look back this far (e.g. 15m, 24h, 7d)."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """Your counts and success rates by stage and error code, and AI usage, over a window.

        Examples:

            distill stats
            distill stats --window 7d --json | jq '.stages[] | {stage, success_rate}'
        """
        s = run(gateway, api_key, lambda client: client.statistics(window))
        if as_json:
            print_json(s)
        else:
            out.print(render.stats_table(s))

    @dlq.command("list")
    def dlq_list(
        stage: str = typer.Option(None, "--stage", "-s", help="Only this stage (parse, ai, export)."),
        task: str = typer.Option("", "--task", "-t", help="Only this task's."),
        error_code: str = typer.Option("", "--error-code", "-c", help="Only this error code."),
        limit: int = typer.Option(50, "--limit", "-n", min=1, help="At most this many (newest first)."),
        all_: bool = typer.Option(False, "--all", help="Every matching one."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """List dead letters, newest first.

        Examples:

            distill dlq list
            distill dlq list --stage parse --error-code HTTP_SERVER_ERROR --json
        """

        async def go(client: AsyncClient) -> tuple[list[admin_pb2.DeadLetter], int]:
            return await collect(
                lambda size, token: client.list_dead_letters(
                    stage=stage, task_id=task, error_code=error_code, page_size=size, page_token=token
                ),
                "dead_letters",
                limit,
                all_,
            )

        letters, total = run(gateway, api_key, go)
        if as_json:
            print_json({"total_size": total, "dead_letters": [as_dict(d) for d in letters]})
        else:
            out.print(render.dead_letters_table(letters, total))

    def _selection(ids: list[str], all_: bool, what: str, yes: bool) -> None:
        if ids and all_:
            raise usage_error("give dead-letter ids or --all, not both")
        if not ids and not all_:
            raise usage_error(f"give the ids of the dead letters to {what}, or --all (with --stage / --task)")
        if all_ and not yes:
            if not stdin_is_interactive():
                raise usage_error(f"--all needs --yes when not run interactively ({what} every matching dead letter)")
            typer.confirm(f"{what} every matching dead letter?", abort=True)

    @dlq.command("replay")
    def dlq_replay(
        ids: list[str] = typer.Argument(None, help="Dead-letter ids."),
        all_: bool = typer.Option(False, "--all", help="Every dead letter (narrowed by --stage / --task)."),
        stage: str = typer.Option(None, "--stage", "-s", help="With --all: only this stage."),
        task: str = typer.Option("", "--task", "-t", help="With --all: only this task's."),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before --all."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """Run dead letters' items again from the stage that failed (and remove the records).

        Examples:

            distill dlq replay 3f2a... 8c1b...
            distill dlq replay --all --stage parse --yes
        """
        ids = ids or []
        _selection(ids, all_, "replay", yes)
        r = run(gateway, api_key, lambda c: c.replay_dead_letters(ids, all=all_, stage=stage, task_id=task))
        if as_json:
            print_json(r)
        else:
            note = f" ({r.skipped_count} removed: their items were no longer failed)" if r.skipped_count else ""
            out.print(f"{r.replayed_count} item(s) sent back to their queue{note}")
        raise typer.Exit(EXIT_OK)

    @dlq.command("purge")
    def dlq_purge(
        ids: list[str] = typer.Argument(None, help="Dead-letter ids."),
        all_: bool = typer.Option(False, "--all", help="Every dead letter (narrowed by --stage / --task)."),
        stage: str = typer.Option(None, "--stage", "-s", help="With --all: only this stage."),
        task: str = typer.Option("", "--task", "-t", help="With --all: only this task's."),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before --all."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """Delete dead-letter records (their items stay failed).

        Examples:

            distill dlq purge 3f2a...
            distill dlq purge --all --task 0b6c... --yes
        """
        ids = ids or []
        _selection(ids, all_, "purge", yes)
        r = run(gateway, api_key, lambda c: c.purge_dead_letters(ids, all=all_, stage=stage, task_id=task))
        if as_json:
            print_json(r)
        else:
            err.print(f"{r.purged_count} dead letter(s) purged")
