"""Friendly names for the API's enums and durations, both ways (pure functions).

The client accepts "high", "parse", "failed" or "24h" wherever the protos want an enum
or a Duration; enum values themselves are accepted too.
"""

from __future__ import annotations

import re
from datetime import timedelta

from distill.v1 import common_pb2, report_pb2, task_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

PRIORITIES = {"high": common_pb2.PRIORITY_HIGH, "normal": common_pb2.PRIORITY_NORMAL, "low": common_pb2.PRIORITY_LOW}
STAGES = {
    "parse": common_pb2.STAGE_PARSE,
    "ai": common_pb2.STAGE_AI,
    "export": common_pb2.STAGE_NOTION,
    "notion": common_pb2.STAGE_NOTION,
}
TASK_STATUSES = {
    "queued": task_pb2.TASK_STATUS_QUEUED,
    "running": task_pb2.TASK_STATUS_RUNNING,
    "succeeded": task_pb2.TASK_STATUS_SUCCEEDED,
    "partially_failed": task_pb2.TASK_STATUS_PARTIALLY_FAILED,
    "failed": task_pb2.TASK_STATUS_FAILED,
    "cancelled": task_pb2.TASK_STATUS_CANCELLED,
}
ITEM_STATUSES = {
    "pending": task_pb2.ITEM_STATUS_PENDING,
    "running": task_pb2.ITEM_STATUS_RUNNING,
    "succeeded": task_pb2.ITEM_STATUS_SUCCEEDED,
    "failed": task_pb2.ITEM_STATUS_FAILED,
    "cancelled": task_pb2.ITEM_STATUS_CANCELLED,
}
REPORT_FORMATS = {
    "pdf": report_pb2.REPORT_FORMAT_PDF,
    "md": report_pb2.REPORT_FORMAT_MARKDOWN,
    "markdown": report_pb2.REPORT_FORMAT_MARKDOWN,
    "json": report_pb2.REPORT_FORMAT_JSON,
}
_PREFIXES = (
    "REPORT_FORMAT_",
    "REPORT_STATUS_",
    "TASK_STATUS_",
    "ITEM_STATUS_",
    "PHASE_STATUS_",
    "STAGE_",
    "PRIORITY_",
    "WORKER_STATE_",
    "EVENT_TYPE_",
    "DESTINATION_",
    "INPUT_KIND_",
)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def _lookup(kind: str, table: dict[str, int], value: str | int) -> int:
    if isinstance(value, int):
        return value
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in table:
        raise ValueError(f"unknown {kind} {value!r}; expected one of: {', '.join(table)}")
    return table[key]


def priority(value: str | int | None) -> int:
    return common_pb2.PRIORITY_UNSPECIFIED if value is None else _lookup("priority", PRIORITIES, value)


def stage(value: str | int | None) -> int:
    return common_pb2.STAGE_UNSPECIFIED if value is None else _lookup("stage", STAGES, value)


def task_status(value: str | int) -> int:
    return _lookup("task status", TASK_STATUSES, value)


def item_status(value: str | int) -> int:
    return _lookup("item status", ITEM_STATUSES, value)


def report_format(value: str | int | None) -> int:
    """ "pdf", "md" / "markdown", "json" (or a ReportFormat value); None is PDF."""
    return report_pb2.REPORT_FORMAT_PDF if value is None else _lookup("report format", REPORT_FORMATS, value)


def label(enum: EnumTypeWrapper, value: int) -> str:
    """`TASK_STATUS_PARTIALLY_FAILED` -> "partially_failed"; STAGE_NOTION -> "export"."""
    if enum is common_pb2.Stage and value == common_pb2.STAGE_NOTION:
        return "export"
    try:
        n = enum.Name(value)
    except ValueError:
        return str(value)
    for p in _PREFIXES:
        n = n.removeprefix(p)
    return n.lower()


def seconds(value: str | float | int | timedelta) -> float:
    """ "90s", "15m", "1h30m", "7d" (or a number of seconds, or a timedelta) as seconds."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float):
        return float(value)
    s = value.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    if not s or _DURATION.sub("", s):
        raise ValueError(f"not a duration: {value!r} (examples: 90s, 15m, 24h, 7d)")
    return sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(s))


def human_duration(total: float) -> str:
    """3725 -> "1h 2m"; 42.5 -> "42s"; 0.2 -> "0.2s"."""
    if total < 1:
        return f"{total:.1f}s"
    total = int(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return " ".join(parts[:2])


__all__ = [
    "ITEM_STATUSES",
    "PRIORITIES",
    "REPORT_FORMATS",
    "STAGES",
    "TASK_STATUSES",
    "human_duration",
    "item_status",
    "label",
    "priority",
    "report_format",
    "seconds",
    "stage",
    "task_status",
]
