"""Rich tables and progress bars for people (the --json output is for scripts)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from distill.v1 import admin_pb2, common_pb2, task_pb2
from distill_client.names import human_duration, label
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from distill_cli.common import err

ALL_STAGES = [common_pb2.STAGE_PARSE, common_pb2.STAGE_AI, common_pb2.STAGE_NOTION]
DONE_PHASE = {task_pb2.PHASE_STATUS_SUCCEEDED, task_pb2.PHASE_STATUS_FAILED, task_pb2.PHASE_STATUS_CANCELLED}
COLOR = {
    "succeeded": "green",
    "failed": "red",
    "partially_failed": "yellow",
    "cancelled": "bright_black",
    "running": "cyan",
    "busy": "cyan",
    "draining": "yellow",
}


def status_text(enum: object, value: int) -> str:
    name = label(enum, value)  # type: ignore[arg-type]
    color = COLOR.get(name)
    return f"[{color}]{name}[/{color}]" if color else name


def ago(ts: Timestamp, now: float | None = None) -> str:
    if not ts.seconds and not ts.nanos:
        return "-"
    delta = (now or time.time()) - (ts.seconds + ts.nanos / 1e9)
    return f"{human_duration(max(0.0, delta))} ago"


def seconds_of(d: Duration) -> float:
    return d.seconds + d.nanos / 1e9


def counts_text(c: task_pb2.TaskCounts) -> str:
    parts = [f"[green]{c.succeeded}✓[/green]"]
    if c.failed:
        parts.append(f"[red]{c.failed}✗[/red]")
    if c.cancelled:
        parts.append(f"[bright_black]{c.cancelled} cancelled[/bright_black]")
    if c.pending + c.running:
        parts.append(f"{c.pending + c.running} to go")
    return " ".join(parts) + f" / {c.total}"


def task_summary(task: task_pb2.Task) -> str:
    c = task.counts
    return (
        f"{c.succeeded} succeeded, {c.failed} failed, {c.cancelled} cancelled, "
        f"{c.pending + c.running} in progress of {c.total} · {task.progress}%"
    )


def input_label(value: str) -> str:
    """An item's input as a person knows it: an uploaded file by its name (upload://<id>/<name>)."""
    if value.startswith("upload://"):
        return value.removeprefix("upload://").partition("/")[2] or value
    return value


def items_table(task: task_pb2.Task, items: Iterable[task_pb2.Item]) -> Table:
    t = Table(title=f"task {task.id} · {status_text(task_pb2.TaskStatus, task.status)}")
    t.add_column("#", justify="right")
    t.add_column("status")
    t.add_column("stage")
    t.add_column("title / error", overflow="fold", max_width=60)
    t.add_column("result", overflow="fold", max_width=60)
    for it in items:
        if it.status == task_pb2.ITEM_STATUS_FAILED:
            detail = f"[red]{it.error.code}[/red]: {it.error.message}"
        else:
            detail = it.title or input_label(it.input)
        result = it.export.url or (it.ai.summary[:80] if it.ai.summary else "")
        t.add_row(
            str(it.position + 1),
            status_text(task_pb2.ItemStatus, it.status),
            label(common_pb2.Stage, it.current_stage),
            detail,
            result,
        )
    return t


def tasks_table(tasks: Iterable[task_pb2.Task], total: int) -> Table:
    t = Table(title=f"{total} task(s)", title_justify="left")
    for col in ("id", "status", "items", "progress", "priority", "labels", "created"):
        t.add_column(col, no_wrap=col in ("id", "status", "created"))
    now = time.time()
    for task in tasks:
        t.add_row(
            task.id,
            status_text(task_pb2.TaskStatus, task.status),
            counts_text(task.counts),
            f"{task.progress}%",
            label(common_pb2.Priority, task.priority),
            " ".join(f"{k}={v}" for k, v in sorted(task.labels.items())),
            ago(task.create_time, now),
        )
    return t


def workers_table(workers: list[admin_pb2.Worker], ttl: float) -> Table:
    t = Table(title=f"{len(workers)} live worker(s) (heartbeat within {ttl:g} s)", title_justify="left")
    for col in ("stage", "name", "host", "pid", "state", "running", "processed", "failed", "started", "last seen"):
        t.add_column(col, justify="right" if col in ("pid", "running", "processed", "failed") else "left")
    now = time.time()
    for w in workers:
        t.add_row(
            label(common_pb2.Stage, w.stage),
            w.name,
            w.host,
            str(w.pid),
            status_text(admin_pb2.WorkerState, w.state),
            f"{len(w.current_item_ids)}/{w.concurrency}",
            str(w.processed_count),
            f"[red]{w.failed_count}[/red]" if w.failed_count else "0",
            ago(w.start_time, now),
            ago(w.last_seen_time, now),
        )
    return t


def queues_table(stats: admin_pb2.QueueStats) -> Table:
    t = Table(title="job lanes", title_justify="left")
    for col in ("stage", "priority", "pending", "ack pending", "redelivered", "oldest", "dead letters"):
        t.add_column(col, justify="left" if col in ("stage", "priority") else "right")
    for lane in stats.lanes:
        stage = label(common_pb2.Stage, lane.stage)
        age = seconds_of(lane.oldest_age)
        first = lane.priority == common_pb2.PRIORITY_HIGH
        dead = stats.dead_lettered.get("notion" if stage == "export" else stage, 0)
        t.add_row(
            stage if first else "",
            label(common_pb2.Priority, lane.priority),
            str(lane.pending),
            str(lane.ack_pending),
            str(lane.redelivered),
            human_duration(age) if age else "-",
            (f"[red]{dead}[/red]" if dead else "0") if first else "",
        )
    return t


def stats_table(s: admin_pb2.Statistics) -> Table:
    window = human_duration(s.end_time.seconds - s.start_time.seconds)
    t = Table(
        title=(
            f"last {window}: {s.tasks_created} task(s), {s.items_created} item(s): {s.items_succeeded} succeeded, "
            f"{s.items_failed} failed, {s.items_cancelled} cancelled · success {s.success_rate:.0%}"
        ),
        title_justify="left",
    )
    for col in ("stage", "started", "succeeded", "failed", "cancelled", "success", "mean time", "failures by code"):
        t.add_column(col, justify="left" if col in ("stage", "failures by code") else "right")
    for st in s.stages:
        codes = ", ".join(f"{c} {n}" for c, n in sorted(st.failures_by_code.items(), key=lambda kv: -kv[1]))
        t.add_row(
            label(common_pb2.Stage, st.stage),
            str(st.started),
            str(st.succeeded),
            str(st.failed),
            str(st.cancelled),
            f"{st.success_rate:.0%}" if st.succeeded + st.failed else "-",
            f"{st.mean_duration_seconds:.2f}s" if st.mean_duration_seconds else "-",
            codes,
        )
    u = s.ai_usage
    t.caption = (
        f"AI: {u.requests} request(s), {u.prompt_tokens} prompt + {u.completion_tokens} completion tokens, "
        f"{u.latency_ms / 1000:.1f}s in calls"
    )
    return t


def dead_letters_table(letters: list[admin_pb2.DeadLetter], total: int) -> Table:
    t = Table(title=f"{total} dead letter(s)", title_justify="left")
    for col in ("id", "stage", "input", "error", "deliveries", "when"):
        t.add_column(col, overflow="fold", max_width=None if col != "input" else 50, no_wrap=col == "id")
    now = time.time()
    for d in letters:
        t.add_row(
            d.id,
            label(common_pb2.Stage, d.stage),
            d.input or d.item_id,
            f"[red]{d.error.code}[/red]: {d.error.message}",
            str(d.deliveries),
            ago(d.create_time, now),
        )
    return t


class LiveProgress:
    """Per-stage progress bars driven by WatchTask events (on stderr)."""

    def __init__(self, task: task_pb2.Task) -> None:
        self.stages = list(task.stages) or ALL_STAGES
        self.total = task.counts.total
        self.phase: dict[tuple[str, int], int] = {}
        self.progress = Progress(
            TextColumn("{task.description:>8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        )
        self.bars = {
            s: self.progress.add_task(label(common_pb2.Stage, s), total=self.total, note="") for s in self.stages
        }

    def apply_item(self, item: task_pb2.Item) -> None:
        for p in item.phases:
            self.phase[(item.id, p.stage)] = p.status
        if item.status in (task_pb2.ITEM_STATUS_CANCELLED, task_pb2.ITEM_STATUS_FAILED):
            # Stages it will never reach are done for it too.
            for s in self.stages:
                self.phase.setdefault((item.id, s), task_pb2.PHASE_STATUS_CANCELLED)

    def apply(self, ev: task_pb2.TaskEvent) -> None:
        if ev.type == task_pb2.EVENT_TYPE_SNAPSHOT:
            for it in ev.task.items:
                self.apply_item(it)
        elif ev.type == task_pb2.EVENT_TYPE_ITEM_UPDATED:
            self.apply_item(ev.item)
        for s, bar in self.bars.items():
            states = [v for (_, st), v in self.phase.items() if st == s]
            done = sum(1 for v in states if v in DONE_PHASE)
            failed = sum(1 for v in states if v == task_pb2.PHASE_STATUS_FAILED)
            self.progress.update(bar, completed=done, note=f"[red]{failed} failed[/red]" if failed else "")
