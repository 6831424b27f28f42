"""Files in and out over HTTP: UploadFiles and the report RPCs (mixed into routes.Api).

    POST   /v1/uploads                     UploadFiles       multipart/form-data (upload_form.py)
    POST   /v1/tasks/{id}/reports          ExportTaskReport  body: {"format": "REPORT_FORMAT_PDF"}
    GET    /v1/reports/{id}                GetReport         (without the content)
    GET    /v1/reports/{id}/content        DownloadReport    the file, streamed

An upload's body is streamed into the servicer's own upload code, which checks every limit
as the bytes arrive; a refused upload has stored nothing by the time it is answered. A
report's content is streamed from DownloadReport's chunks with its Content-Type, length,
file name and digest.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

from distill.v1 import report_pb2
from distill_core.errors import DistillError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from distill_gateway.web import bridge, multipart
from distill_gateway.web.bridge import RpcAbort
from distill_gateway.web.jsonmap import check_params, to_json
from distill_gateway.web.responses import problem_response
from distill_gateway.web.upload_form import upload_requests

# Refusals of an upload for its size or count: HTTP's own 413 (Content Too Large), not 429.
TOO_LARGE = {"FILE_TOO_LARGE", "UPLOAD_TOO_LARGE", "TOO_MANY_FILES", "REQUEST_TOO_LARGE"}


class TransferRoutes:
    """Route handlers of routes.Api (whose helpers they use)."""

    pipeline: Any
    context: Any
    call: Any
    body: Any
    query: Any
    unreadable: Any

    # --- UploadFiles ------------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        method = self.pipeline.UploadFiles
        context = self.context(request)
        settings = self.pipeline.settings
        try:
            check_params(request.query_params, [])
            boundary = multipart.boundary_of(request.headers.get("content-type"))
        except DistillError as e:
            status = 415 if isinstance(e, multipart.NotMultipart) else None
            return await self.unreadable(request, method, context, e, status=status)
        declared = request.headers.get("content-length", "")
        messages = upload_requests(
            request.stream(),
            boundary,
            fields_limit=settings.max_request_bytes,
            declared_length=int(declared) if declared.isdigit() else None,
            body_limit=settings.upload_max_task_bytes + settings.max_request_bytes,
        )
        try:
            task = await bridge.unary(method, messages, context)  # type: ignore[arg-type]
        except RpcAbort as e:
            status = 413 if e.reason in TOO_LARGE else None
            return problem_response(e.code, e.details, request.url.path, status=status)
        finally:
            await messages.aclose()
        return JSONResponse(to_json(task))

    # --- reports ----------------------------------------------------------------------------

    async def task_reports(self, request: Request) -> Response:
        return await self.call(
            request,
            self.pipeline.ExportTaskReport,
            self.body(request, report_pb2.ExportTaskReportRequest, task_id=request.path_params["id"]),
        )

    async def report(self, request: Request) -> Response:
        """GetReport without the inline content: GET /v1/reports/{id}/content gives the bytes,
        with their type and name, so a client polling for the status never pays for them."""

        def without_content(report: report_pb2.Report) -> report_pb2.Report:
            report.ClearField("content")
            return report

        return await self.call(
            request,
            self.pipeline.GetReport,
            self.query(request, (), lambda: report_pb2.GetReportRequest(id=request.path_params["id"])),
            without_content,
        )

    async def report_content(self, request: Request) -> Response:
        method = self.pipeline.DownloadReport
        context = self.context(request)
        try:
            check_params(request.query_params, [])
        except DistillError as e:
            return await self.unreadable(request, method, context, e)
        chunks = bridge.stream(method, report_pb2.DownloadReportRequest(id=request.path_params["id"]), context)
        try:
            first = await anext(chunks)
        except RpcAbort as e:
            return problem_response(e.code, e.details, request.url.path)
        meta = first.report
        headers = {
            "Content-Length": str(meta.size_bytes),
            "Content-Disposition": f'attachment; filename="{meta.filename}"',
            "ETag": f'"{meta.sha256}"',
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(meta.sha256)).decode()}:",  # RFC 9530
            "Cache-Control": "private, no-cache",
        }
        return StreamingResponse(_content(first, chunks), media_type=meta.content_type, headers=headers)


async def _content(first: report_pb2.ReportChunk, rest: AsyncIterator[report_pb2.ReportChunk]) -> AsyncIterator[bytes]:
    """The bytes of a report. A failure half-way (its task deleted meanwhile) ends the
    response short of its Content-Length, which clients report as an incomplete download."""
    try:
        if first.data:
            yield first.data
        async for chunk in rest:
            yield chunk.data
    finally:
        await rest.aclose()  # type: ignore[attr-defined]
