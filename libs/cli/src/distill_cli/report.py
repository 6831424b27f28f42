"""`distill report TASK --format pdf|md|json -o FILE`: a task's results as one file."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from distill.v1 import report_pb2, task_pb2
from distill_client import TERMINAL_TASK, AsyncClient
from distill_client.names import REPORT_FORMATS, label
from distill_client.reports import write_atomic

from distill_cli.common import EXIT_FAILED, EXIT_OK, ApiKey, AsJson, Gateway, as_dict, err, print_json, run, usage_error

FORMAT_CHOICES = ("pdf", "md", "json")


def target_path(output: Path | None, filename: str) -> Path | None:
    """Where to write: --output as given, inside it when it is a folder, the report's own name
    in the current folder without it; None for '-' (standard output)."""
    if output is None:
        return Path(filename)
    if str(output) == "-":
        return None
    return output / filename if output.is_dir() else output


def describe(r: report_pb2.Report) -> str:
    state = label(report_pb2.ReportStatus, r.status)
    return f"{state}" + (f", attempt {r.attempts}" if r.attempts > 1 else "")


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        task_id: str = typer.Argument(..., help="Task id."),
        fmt: str = typer.Option("pdf", "--format", "-F", help="pdf, md (Markdown) or json."),
        output: Path = typer.Option(
            None, "--output", "-o", help="File or folder to write ('-': stdout) (default: the report's own name)."
        ),
        timeout: float = typer.Option(600.0, "--timeout", min=1, help="Seconds to wait for the report."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """Save a task's results as one file: PDF, Markdown or JSON.

        The PDF: a cover with the task's figures, then per item title, source, summary, keywords, insights, recipe.

        The report is made in the background; this waits for it (spinner on stderr), then writes the file.

        A task that has not finished is reported as it is now. --json prints the report's metadata on stdout.

        Exit codes: 0 written, 1 the report failed or an error.

        Examples:

            distill report 0b6c... --format pdf -o reading-list.pdf
            distill report 0b6c... --format md -o notes/
            distill report 0b6c... --format json -o - | jq '.items[].title'
        """
        if fmt.lower() not in REPORT_FORMATS:
            raise usage_error(f"--format must be one of {', '.join(FORMAT_CHOICES)}, not {fmt!r}")
        if as_json and str(output) == "-":
            raise usage_error("--json and --output - both write to standard output: choose one")
        if output is not None and str(output) != "-" and not output.parent.is_dir():
            raise usage_error(f"--output {output}: the folder {output.parent} does not exist")

        async def go(client: AsyncClient) -> int:
            task = await client.get_task(task_id)
            if task.status not in TERMINAL_TASK:
                err.print(
                    f"[yellow]task {task.id} is {label(task_pb2.TaskStatus, task.status)}[/yellow]: "
                    "the report shows its items as they are now"
                )
            started = await client.export_report(task_id, fmt)
            with err.status(f"making the {fmt} report of task {task_id} ({describe(started)})") as spinner:

                def show(r: report_pb2.Report) -> None:
                    spinner.update(f"making the {fmt} report of task {task_id} ({describe(r)})")

                done = await client.wait_report(started.id, timeout=timeout, on_poll=show)
            if done.status != report_pb2.REPORT_STATUS_SUCCEEDED:
                if as_json:
                    print_json(done)
                err.print(f"[red]report failed[/red] ({done.error.code}): {done.error.message}")
                return EXIT_FAILED
            data = await client.report_content(done)
            path = target_path(output, done.filename)
            if path is None:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            else:
                write_atomic(path, data)
            if as_json:
                meta = as_dict(done)
                meta.pop("content", None)
                print_json({**meta, "path": str(path) if path else "-"})
            if path is not None:
                err.print(f"wrote {path} ({len(data):,} bytes, {done.item_count} items)")
            return EXIT_OK

        raise typer.Exit(run(gateway, api_key, go))
