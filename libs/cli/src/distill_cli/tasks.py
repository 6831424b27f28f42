"""Task commands: submit, watch, status, list, retry, cancel (all on the client library)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from distill.v1 import task_pb2
from distill_client import AsyncClient

from distill_cli import render, uploads
from distill_cli.common import (
    EXIT_OK,
    ApiKey,
    AsJson,
    Gateway,
    as_dict,
    collect,
    err,
    exit_code,
    out,
    parse_labels,
    print_json,
    run,
    usage_error,
)

INPUT_KINDS = ("url", "parsed", "ai")


def read_inputs(args: list[str], file: Path | None) -> list[str]:
    """Arguments, then lines of --file, then stdin ('-' or a pipe); blank lines and # comments skipped."""

    def lines(text: str) -> list[str]:
        return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]

    inputs = [a for a in args if a != "-"]
    if file:
        try:
            inputs += lines(file.read_text())
        except OSError as e:
            raise usage_error(f"cannot read --file {file}: {e.strerror}") from None
    if "-" in args or (not inputs and not sys.stdin.isatty()):
        inputs += lines(sys.stdin.read())
    return inputs


async def follow(client: AsyncClient, task: task_pb2.Task, as_json: bool, from_sequence: int = 0) -> task_pb2.Task:
    """Show the task's progress until it ends (bars, or JSON lines); returns it with its items."""
    if as_json:
        async for ev in client.watch(task.id, from_sequence):
            print_json(ev, lines=True)
    else:
        live = render.LiveProgress(task)
        with live.progress:
            async for ev in client.watch(task.id, from_sequence):
                live.apply(ev)
    return await client.get_task(task.id, include_items=True)


def show_final(task: task_pb2.Task, as_json: bool) -> int:
    if as_json:
        return exit_code(task)
    out.print(render.items_table(task, task.items))
    out.print(render.task_summary(task))
    return exit_code(task)


def register(app: typer.Typer) -> None:
    @app.command()
    def submit(
        inputs: list[str] = typer.Argument(
            None, help="URLs and local files (uploaded), or content ids with --input; '-' reads stdin."
        ),
        file: Path = typer.Option(None, "--file", "-f", help="Read them from a file, one per line."),
        wait: bool = typer.Option(False, "--wait", "-w", help="Show live progress and wait for the result."),
        priority: str = typer.Option("normal", "--priority", "-p", help="high, normal or low."),
        label: list[str] = typer.Option([], "--label", "-l", help="KEY=VALUE label (repeatable)."),
        stage: list[str] = typer.Option([], "--stage", "-s", help="Run only these stages (parse, ai, export)."),
        input_kind: str = typer.Option(
            "url",
            "--input",
            help="What the arguments are: url, parsed (content ids: start at ai), ai (start at export).",
        ),
        idempotency_key: str = typer.Option("", "--idempotency-key", "-k", help="Same key: the same task back."),
        model: str = typer.Option("", "--model", help="A named AI model of the deployment."),
        recipe: bool = typer.Option(False, "--recipe", help="Also extract a recipe from free text."),
        destination: str = typer.Option("", "--destination", help="markdown or notion (default: the deployment's)."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """Submit URLs and local files; prints the task id (with --wait: live progress, then a summary).

        Local files (PNG, JPEG, WebP, TIFF, PDF, text, Markdown, HTML) are uploaded; images and scans are read by OCR.

        Exit codes with --wait: 0 all succeeded, 3 some failed, 1 all failed, cancelled or an error.

        Examples:

            distill submit https://example.com/article
            distill submit --wait https://a.example/x https://b.example/y
            cat links.txt | distill submit - --wait --priority low --label list=reading
            distill submit --file links.txt --stage parse --json
            distill submit --input parsed 6f1c... --stage ai     # re-summarise earlier content
            distill submit --wait scan.pdf photos/recipe.jpg https://example.com/a
        """
        items = read_inputs(inputs or [], file)
        if not items:
            raise usage_error("nothing to submit: give URLs as arguments, --file, or '-' for stdin")
        if input_kind not in INPUT_KINDS:
            raise usage_error(f"--input must be one of {', '.join(INPUT_KINDS)}, not {input_kind!r}")
        if destination and destination not in ("markdown", "notion"):
            raise usage_error(f"--destination must be markdown or notion, not {destination!r}")
        labels = parse_labels(label)
        ai = {"model": model, **({"extractRecipe": True} if recipe else {})}
        export = {"destination": f"DESTINATION_{destination.upper()}"} if destination else None
        files = uploads.local_files(items) if input_kind == "url" else []
        options = {"stages": stage, "priority": priority, "labels": labels, "idempotency_key": idempotency_key}
        options |= {"ai": ai, "export": export}

        async def go(client: AsyncClient) -> int:
            if files:
                task = await uploads.upload(client, items, quiet=as_json, **options)
            else:
                task = await client.submit(
                    items if input_kind == "url" else (),
                    parsed_content_ids=items if input_kind == "parsed" else (),
                    ai_content_ids=items if input_kind == "ai" else (),
                    **options,
                )
            if not wait:
                print_json(task) if as_json else print(task.id)
                return EXIT_OK
            if not as_json:
                err.print(f"task [bold]{task.id}[/bold]: {len(items)} input(s) accepted")
            final = await follow(client, task, as_json)
            if as_json:
                print_json(final)
                return exit_code(final)
            code = show_final(final, as_json)
            print(final.id)  # last, for scripts
            return code

        raise typer.Exit(run(gateway, api_key, go))

    @app.command()
    def watch(
        task_id: str = typer.Argument(..., help="Task id."),
        from_sequence: int = typer.Option(0, "--from-sequence", help="Resume after this event sequence."),
        as_json: bool = typer.Option(False, "--json", help="One JSON event per line, then the final task."),
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """Follow a task live until it finishes (progress bars, or JSON lines).

        Exit codes: 0 all succeeded, 3 some failed, 1 all failed, cancelled or an error.

        Examples:

            distill watch 0b6c...
            distill watch 0b6c... --json | jq -c 'select(.type == "EVENT_TYPE_ITEM_UPDATED")'
        """

        async def go(client: AsyncClient) -> int:
            task = await client.get_task(task_id)
            final = await follow(client, task, as_json, from_sequence)
            if as_json:
                print_json(final, lines=True)
            return show_final(final, as_json)

        raise typer.Exit(run(gateway, api_key, go))

    @app.command()
    def status(
        task_id: str = typer.Argument(..., help="Task id."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """Show a task and its items.

        Exit codes: 0 succeeded or still running, 3 finished with some failures, 1 failed, cancelled or an error.

        Examples:

            distill status 0b6c...
            distill status 0b6c... --json | jq '.items[] | select(.status == "ITEM_STATUS_FAILED") | .input'
        """

        async def go(client: AsyncClient) -> task_pb2.Task:
            return await client.get_task(task_id, include_items=True)

        task = run(gateway, api_key, go)
        if as_json:
            print_json(task)
        else:
            out.print(render.task_summary(task))
            out.print(render.items_table(task, task.items))
        raise typer.Exit(exit_code(task))

    @app.command("list")
    def list_(
        status: list[str] = typer.Option([], "--status", help="Only tasks in this status (repeatable)."),
        label: list[str] = typer.Option([], "--label", "-l", help="Only tasks with this KEY=VALUE label (repeatable)."),
        limit: int = typer.Option(20, "--limit", "-n", min=1, help="At most this many (newest first)."),
        all_: bool = typer.Option(False, "--all", help="Every matching task (pages through them all)."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """List your tasks, newest first.

        Examples:

            distill list
            distill list --status failed --status partially_failed
            distill list --label list=reading --all --json | jq -r '.tasks[].id'
        """
        labels = parse_labels(label)

        async def go(client: AsyncClient) -> tuple[list[task_pb2.Task], int]:
            return await collect(
                lambda size, token: client.list_tasks(statuses=status, labels=labels, page_size=size, page_token=token),
                "tasks",
                limit,
                all_,
            )

        tasks, total = run(gateway, api_key, go)
        if as_json:
            print_json({"total_size": total, "tasks": [as_dict(t) for t in tasks]})
        else:
            out.print(render.tasks_table(tasks, total))
            if len(tasks) < total:
                err.print(f"showing {len(tasks)} of {total}: --limit N or --all for more")

    @app.command()
    def retry(
        task_id: str = typer.Argument(..., help="Task id."),
        item: list[str] = typer.Option([], "--item", "-i", help="Only this item (repeatable)."),
        stage: str = typer.Option(None, "--stage", "-s", help="Only items that failed at this stage."),
        error_code: str = typer.Option("", "--error-code", "-c", help="Only items that failed with this code."),
        wait: bool = typer.Option(False, "--wait", "-w", help="Show live progress and wait for the result."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """Re-run a task's failed items, each from the stage that failed.

        Prints how many items were retried (0 is not an error). Exit codes with --wait as for watch.

        Examples:

            distill retry 0b6c...
            distill retry 0b6c... --error-code HTTP_SERVER_ERROR --wait
            distill retry 0b6c... --stage ai --item 9e1d...
        """

        async def go(client: AsyncClient) -> int:
            r = await client.retry(task_id, item_ids=item, stage=stage, error_code=error_code)
            if as_json:
                print_json(r, lines=wait)
            else:
                err.print(f"{r.retried_count} failed item(s) sent back to their queue")
            if not wait:
                return EXIT_OK
            if not r.retried_count:  # nothing to wait for: the task's outcome as it stands
                return show_final(await client.get_task(task_id, include_items=True), as_json)
            final = await follow(client, r.task, as_json)
            if as_json:
                print_json(final, lines=True)
            return show_final(final, as_json)

        raise typer.Exit(run(gateway, api_key, go))

    @app.command()
    def cancel(
        task_id: str = typer.Argument(..., help="Task id."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """Cancel a task: pending items at once, running ones are interrupted.

        Exit code 1 when the task has already finished (nothing to cancel).

        Example: distill cancel 0b6c...
        """

        async def go(client: AsyncClient) -> task_pb2.Task:
            return await client.cancel(task_id)

        task = run(gateway, api_key, go)
        if as_json:
            print_json(task)
        else:
            out.print(f"task {task.id} cancelled: {render.task_summary(task)}")
