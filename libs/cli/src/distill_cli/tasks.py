"""`distill submit` and `distill status`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import typer
from distill.v1 import common_pb2, task_pb2
from distill_client import AsyncClient, DistillClientError
from google.protobuf import json_format
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

out = Console()
err = Console(stderr=True)

EXIT_OK, EXIT_FAILED, EXIT_PARTIAL = 0, 1, 3
STAGE_LABEL = {common_pb2.STAGE_PARSE: "parse", common_pb2.STAGE_AI: "ai", common_pb2.STAGE_NOTION: "export"}
DONE_PHASE = {task_pb2.PHASE_STATUS_SUCCEEDED, task_pb2.PHASE_STATUS_FAILED, task_pb2.PHASE_STATUS_CANCELLED}

Gateway = typer.Option(None, "--gateway", envvar="DISTILL_GATEWAY", help="HOST:PORT of the gateway.")
ApiKey = typer.Option(None, "--api-key", envvar="DISTILL_API_KEY", help="API key.", show_default=False)
AsJson = typer.Option(False, "--json", help="Machine-readable JSON output.")


def name(enum: Any, value: int) -> str:
    n = enum.Name(value)
    for prefix in ("TASK_STATUS_", "ITEM_STATUS_", "PHASE_STATUS_", "STAGE_"):
        n = n.removeprefix(prefix)
    return n.lower()


def exit_code(task: task_pb2.Task) -> int:
    if task.status == task_pb2.TASK_STATUS_SUCCEEDED:
        return EXIT_OK
    if task.status == task_pb2.TASK_STATUS_PARTIALLY_FAILED:
        return EXIT_PARTIAL
    return EXIT_FAILED


def as_dict(msg: Any) -> dict[str, Any]:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def read_urls(args: list[str], file: Path | None) -> list[str]:
    urls = [a for a in args if a != "-"]
    if file:
        urls += [ln.strip() for ln in file.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    if "-" in args or (not urls and not sys.stdin.isatty()):
        urls += [ln.strip() for ln in sys.stdin if ln.strip() and not ln.startswith("#")]
    return urls


def summary_table(task: task_pb2.Task) -> Table:
    t = Table(title=f"task {task.id} · {name(task_pb2.TaskStatus, task.status)}", show_lines=False)
    t.add_column("#", justify="right")
    t.add_column("status")
    t.add_column("title / error", overflow="fold", max_width=60)
    t.add_column("result", overflow="fold", max_width=60)
    for it in task.items:
        st = name(task_pb2.ItemStatus, it.status)
        color = {"succeeded": "green", "failed": "red", "cancelled": "yellow"}.get(st, "white")
        if it.status == task_pb2.ITEM_STATUS_FAILED:
            detail = f"[red]{it.error.code}[/red]: {it.error.message}"
        else:
            detail = it.title or it.input
        result = it.export.url or (it.ai.summary[:80] if it.ai.summary else "")
        t.add_row(str(it.position + 1), f"[{color}]{st}[/{color}]", detail, result)
    return t


class LiveProgress:
    """Per-stage progress bars driven by WatchTask events."""

    def __init__(self, task: task_pb2.Task) -> None:
        self.stages = list(task.stages) or [common_pb2.STAGE_PARSE, common_pb2.STAGE_AI, common_pb2.STAGE_NOTION]
        self.total = task.counts.total
        self.phase: dict[tuple[str, int], int] = {}
        self.failed: set[str] = set()
        self.progress = Progress(
            TextColumn("{task.description:>8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        )
        self.bars = {s: self.progress.add_task(STAGE_LABEL.get(s, "?"), total=self.total, note="") for s in self.stages}

    def apply_item(self, item: task_pb2.Item) -> None:
        for p in item.phases:
            self.phase[(item.id, p.stage)] = p.status
        if item.status == task_pb2.ITEM_STATUS_FAILED:
            self.failed.add(item.id)

    def apply(self, ev: task_pb2.TaskEvent) -> None:
        if ev.type == task_pb2.EVENT_TYPE_SNAPSHOT:
            for it in ev.task.items:
                self.apply_item(it)
        elif ev.type == task_pb2.EVENT_TYPE_ITEM_UPDATED:
            self.apply_item(ev.item)
        for s, bar in self.bars.items():
            done = sum(1 for (_, st), v in self.phase.items() if st == s and v in DONE_PHASE)
            failed = sum(1 for (_, st), v in self.phase.items() if st == s and v == task_pb2.PHASE_STATUS_FAILED)
            self.progress.update(bar, completed=done, note=f"[red]{failed} failed[/red]" if failed else "")


async def _submit(
    urls: list[str],
    wait: bool,
    as_json: bool,
    gateway: str | None,
    api_key: str | None,
    priority: str,
    labels: list[str],
    stages: list[str],
) -> int:
    prio = {"high": common_pb2.PRIORITY_HIGH, "normal": common_pb2.PRIORITY_NORMAL, "low": common_pb2.PRIORITY_LOW}
    stage_enum = {
        "parse": common_pb2.STAGE_PARSE,
        "ai": common_pb2.STAGE_AI,
        "notion": common_pb2.STAGE_NOTION,
        "export": common_pb2.STAGE_NOTION,
    }
    lbl = dict(kv.split("=", 1) for kv in labels)
    async with AsyncClient(gateway, api_key) as client:
        task = await client.submit(urls, priority=prio[priority], labels=lbl, stages=[stage_enum[s] for s in stages])
        if not wait:
            print(json.dumps(as_dict(task)) if as_json else task.id)
            return EXIT_OK
        if not as_json:
            err.print(f"task [bold]{task.id}[/bold]: {len(urls)} URL(s) accepted")
            live = LiveProgress(task)
            with live.progress:
                async for ev in client.watch(task.id):
                    live.apply(ev)
        else:
            async for _ in client.watch(task.id):
                pass
        final = await client.get_task(task.id, include_items=True)
        if as_json:
            print(json.dumps(as_dict(final), indent=2))
        else:
            out.print(summary_table(final))
            print(final.id)
        return exit_code(final)


def register(app: typer.Typer) -> None:
    @app.command()
    def submit(
        urls: list[str] = typer.Argument(None, help="URLs to distill ('-' reads them from stdin)."),
        file: Path = typer.Option(None, "--file", "-f", help="Read URLs from a file, one per line."),
        wait: bool = typer.Option(False, "--wait", "-w", help="Show live progress and wait for the result."),
        priority: str = typer.Option("normal", "--priority", "-p", help="high, normal or low."),
        label: list[str] = typer.Option([], "--label", "-l", help="KEY=VALUE label (repeatable)."),
        stage: list[str] = typer.Option([], "--stage", help="Run only these stages (parse, ai, export)."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """Submit URLs; prints the task id (with --wait: live progress, then a summary).

        Exit codes with --wait: 0 all succeeded, 3 some failed, 1 all failed or an error.

        Examples:

            distill submit https://example.com/article
            distill submit --wait https://a.example/x https://b.example/y
            cat links.txt | distill submit - --wait --priority low
        """
        all_urls = read_urls(urls or [], file)
        if not all_urls:
            err.print("[red]no URLs given[/red] (arguments, --file, or '-' for stdin)")
            raise typer.Exit(2)
        if priority not in ("high", "normal", "low"):
            err.print(f"[red]--priority must be high, normal or low, not {priority!r}[/red]")
            raise typer.Exit(2)
        bad = [lb for lb in label if "=" not in lb]
        if bad:
            err.print(f"[red]--label must be KEY=VALUE: {bad[0]!r}[/red]")
            raise typer.Exit(2)
        try:
            code = asyncio.run(_submit(all_urls, wait, as_json, gateway, api_key, priority, label, stage))
        except DistillClientError as e:
            err.print(f"[red]{e.code.name}[/red]: {e.message}")
            raise typer.Exit(EXIT_FAILED) from None
        raise typer.Exit(code)

    @app.command()
    def status(
        task_id: str = typer.Argument(..., help="Task id."),
        as_json: bool = AsJson,
        gateway: str = Gateway,
        api_key: str = ApiKey,
    ) -> None:
        """Show a task and its items.

        Example: distill status 0b6c...
        """

        async def go() -> task_pb2.Task:
            async with AsyncClient(gateway, api_key) as client:
                return await client.get_task(task_id, include_items=True)

        try:
            task = asyncio.run(go())
        except DistillClientError as e:
            err.print(f"[red]{e.code.name}[/red]: {e.message}")
            raise typer.Exit(EXIT_FAILED) from None
        if as_json:
            print(json.dumps(as_dict(task), indent=2))
        else:
            c = task.counts
            out.print(
                f"{c.succeeded} succeeded, {c.failed} failed, {c.cancelled} cancelled, "
                f"{c.pending + c.running} in progress of {c.total} · {task.progress}%"
            )
            out.print(summary_table(task))
