"""Pipeline's report RPCs: ExportTaskReport, GetReport, DownloadReport (mixed into PipelineServicer).

Auth and tenancy as everywhere: another tenant's task or report is NOT_FOUND. A report of
a task that has not finished is allowed: it shows the items as they are when the worker
reads them, and says so (Report.task_status, the cover). Content comes inline in
GetReport up to DISTILL_REPORT_INLINE_BYTES, and in chunks from DownloadReport at any size.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
from distill.v1 import report_pb2
from distill_core import report_formats
from distill_core.apikeys import Caller
from distill_core.errors import FailedPrecondition, InvalidInput, NotFoundError
from distill_core.events import publish_all
from distill_core.logging import get_logger
from distill_core.settings import GatewaySettings
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from distill_gateway import repo, report_store, validation
from distill_gateway.calls import rpc, rpc_stream

log = get_logger(__name__)


class ReportsMixin:
    settings: GatewaySettings
    engine: AsyncEngine
    js: JetStreamContext

    @rpc
    async def ExportTaskReport(
        self, request: report_pb2.ExportTaskReportRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> report_pb2.Report:
        task_id = validation.parse_id("task_id", request.task_id)
        try:
            fmt = report_formats.format_name(request.format)
        except ValueError as e:
            raise InvalidInput(str(e)) from None
        tenant = caller.tenant_id
        async with self.engine.begin() as conn:
            if await repo.get_task(conn, tenant, task_id) is None:
                raise NotFoundError(f"task {request.task_id} not found")
            row = await report_store.create(
                conn,
                tenant,
                task_id,
                fmt,
                max_active=self.settings.report_max_active,
                keep=self.settings.report_keep_per_task,
            )
        try:
            await publish_all(self.js, [report_store.job_msg(row["id"], task_id, tenant)])
        except Exception as e:  # accepted all the same: the janitor publishes it again
            log.warning("could not publish the report job", report_id=str(row["id"]), error=str(e)[:200])
        log.info("report requested", report_id=str(row["id"]), task_id=str(task_id), tenant_id=tenant, format=fmt)
        return report_store.to_proto(row)

    async def _report(self, caller: Caller, raw_id: str, *, inline: int = -1) -> dict[str, Any]:
        report_id = validation.parse_id("id", raw_id)
        async with self.engine.connect() as conn:
            row = await report_store.get(conn, caller.tenant_id, report_id, inline=inline)
        if row is None:
            raise NotFoundError(f"report {raw_id} not found")
        return row

    @rpc
    async def GetReport(
        self, request: report_pb2.GetReportRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> report_pb2.Report:
        row = await self._report(caller, request.id, inline=self.settings.report_inline_bytes)
        return report_store.to_proto(row, row.get("content"))

    @rpc_stream
    async def DownloadReport(
        self, request: report_pb2.DownloadReportRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> AsyncIterator[report_pb2.ReportChunk]:
        row = await self._report(caller, request.id)
        if row["status"] != "succeeded":
            raise FailedPrecondition(
                f"report {request.id} is {row['status']}: it can be downloaded once GetReport says SUCCEEDED"
            )
        meta = report_store.to_proto(row)
        size = int(row["size_bytes"] or 0)
        offset = 0
        while True:
            n = min(report_store.CHUNK_BYTES, size - offset)
            data = b""
            if n > 0:
                async with self.engine.connect() as conn:
                    got = await report_store.read_slice(conn, caller.tenant_id, uuid.UUID(str(row["id"])), offset, n)
                if got is None:
                    raise NotFoundError(f"report {request.id} was deleted (with its task) during the download")
                data = got
            yield report_pb2.ReportChunk(report=meta if offset == 0 else None, offset=offset, data=data)
            offset += len(data)
            if offset >= size or not data:
                return
