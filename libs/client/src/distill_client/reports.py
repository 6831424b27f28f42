"""Task reports (PDF, Markdown, JSON): ask for one, wait for it, fetch its bytes.

    report = await client.export_report(task.id, "pdf")      # QUEUED: made in the background
    report = await client.wait_report(report.id)              # SUCCEEDED or FAILED
    data = await client.report_content(report)                # inline, or downloaded in chunks
    await client.save_report(report, "task.pdf")              # or all of it in one call

Mixed into AsyncClient (and so into the blocking Client).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
from distill.v1 import pipeline_pb2_grpc, report_pb2

from distill_client import names
from distill_client.errors import DataLoss, DeadlineExceeded, from_rpc_error

TERMINAL_REPORT = frozenset({report_pb2.REPORT_STATUS_SUCCEEDED, report_pb2.REPORT_STATUS_FAILED})


class ReportsMixin:
    pipeline: pipeline_pb2_grpc.PipelineStub
    metadata: list[tuple[str, str]]
    _call: Callable[..., Any]

    async def export_report(self, task_id: str, format: str | int | None = "pdf") -> report_pb2.Report:
        """Start a report of the task (finished or not) in `format`: "pdf", "md" or "json"."""
        req = report_pb2.ExportTaskReportRequest(task_id=task_id, format=names.report_format(format))  # type: ignore[arg-type]
        return await self._call(self.pipeline.ExportTaskReport, req)  # type: ignore[no-any-return]

    async def get_report(self, report_id: str) -> report_pb2.Report:
        """The report's status (and its content when it is ready and small: see Report.content)."""
        req = report_pb2.GetReportRequest(id=report_id)
        return await self._call(self.pipeline.GetReport, req, idempotent=True)  # type: ignore[no-any-return]

    async def wait_report(
        self,
        report_id: str,
        timeout: float | None = None,
        on_poll: Callable[[report_pb2.Report], None] | None = None,
    ) -> report_pb2.Report:
        """Poll until the report is SUCCEEDED or FAILED and return it (check `status`);
        DeadlineExceeded after `timeout` seconds. `on_poll(report)` sees each answer."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.1
        while True:
            report = await self.get_report(report_id)
            if on_poll is not None:
                on_poll(report)
            if report.status in TERMINAL_REPORT:
                return report
            if deadline is not None and time.monotonic() + delay > deadline:
                raise DeadlineExceeded(f"report {report_id} was not ready within {timeout:g} s")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    async def download_report(self, report_id: str) -> AsyncIterator[report_pb2.ReportChunk]:
        """The content of a SUCCEEDED report in chunks (the first carries the report itself)."""
        call = self.pipeline.DownloadReport(report_pb2.DownloadReportRequest(id=report_id), metadata=self.metadata)
        try:
            async for chunk in call:
                yield chunk
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        finally:
            call.cancel()

    async def report_content(self, report: report_pb2.Report | str) -> bytes:
        """All of a SUCCEEDED report's bytes (inline when GetReport carried them), checked
        against its size and SHA-256; DataLoss when they do not match."""
        if isinstance(report, str):
            report = await self.get_report(report)
        if report.content and len(report.content) == report.size_bytes:
            data = report.content
        else:
            parts = []
            async for chunk in self.download_report(report.id):
                if chunk.HasField("report"):
                    report = chunk.report
                parts.append(chunk.data)
            data = b"".join(parts)
        if len(data) != report.size_bytes or (report.sha256 and hashlib.sha256(data).hexdigest() != report.sha256):
            raise DataLoss(
                f"report {report.id}: got {len(data)} bytes that do not match its size ({report.size_bytes}) "
                "or SHA-256; try again"
            )
        return data

    async def save_report(self, report: report_pb2.Report | str, path: str | os.PathLike[str]) -> Path:
        """Write a SUCCEEDED report's content to `path` (atomically: a reader never sees half a file)."""
        data = await self.report_content(report)
        return await asyncio.to_thread(write_atomic, Path(path), data)


def write_atomic(target: Path, data: bytes) -> Path:
    """Write via a temporary file in the same folder and rename it over `target`."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".distill-report-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
