"""Report formats and statuses: stored names, proto enums, MIME types and file names (pure).

Shared by the gateway (ExportTaskReport, GetReport) and the report worker of the export
service, so both say the same thing about a report.
"""

from __future__ import annotations

from distill.v1 import report_pb2

FORMATS: dict[str, int] = {
    "pdf": report_pb2.REPORT_FORMAT_PDF,
    "markdown": report_pb2.REPORT_FORMAT_MARKDOWN,
    "json": report_pb2.REPORT_FORMAT_JSON,
}
FORMAT_NAME: dict[int, str] = {v: k for k, v in FORMATS.items()}
FORMAT_NAME[report_pb2.REPORT_FORMAT_UNSPECIFIED] = "pdf"

CONTENT_TYPES = {"pdf": "application/pdf", "markdown": "text/markdown; charset=utf-8", "json": "application/json"}
EXTENSIONS = {"pdf": "pdf", "markdown": "md", "json": "json"}

STATUSES: dict[str, int] = {
    "queued": report_pb2.REPORT_STATUS_QUEUED,
    "running": report_pb2.REPORT_STATUS_RUNNING,
    "succeeded": report_pb2.REPORT_STATUS_SUCCEEDED,
    "failed": report_pb2.REPORT_STATUS_FAILED,
}
ACTIVE = ("queued", "running")


def format_name(value: int) -> str:
    """The stored name of a ReportFormat value (unspecified is pdf); ValueError for an unknown one."""
    if value not in FORMAT_NAME:
        names = ", ".join(report_pb2.ReportFormat.Name(v) for v in FORMATS.values())
        raise ValueError(f"format: unknown value {value} (one of {names})")
    return FORMAT_NAME[value]


def filename(task_id: str, fmt: str) -> str:
    """What to save a report as: distill-report-<first 8 of the task id>.<ext>."""
    return f"distill-report-{str(task_id).replace('-', '')[:8]}.{EXTENSIONS[fmt]}"
