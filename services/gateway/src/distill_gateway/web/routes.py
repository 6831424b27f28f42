"""The JSON API: the Pipeline RPCs (and what the dashboard needs of Notifications) over HTTP.

    POST   /v1/tasks                       CreateTask        body: CreateTaskRequest
    GET    /v1/tasks                       ListTasks         ?status=&label=k=v&page_size=&page_token=
    GET    /v1/tasks/{id}                  GetTask           ?include_items=true
    POST   /v1/tasks/{id}:cancel           CancelTask
    POST   /v1/tasks/{id}:retry            RetryTask         body: {item_ids, stage, error_code}
    GET    /v1/tasks/{id}/items            ListItems         ?status=&page_size=&page_token=
    GET    /v1/tasks/{id}/events           WatchTask         Server-Sent Events; Last-Event-ID resumes
    GET    /v1/items/{id}                  GetItem           ?view=full
    GET    /v1/events                      WatchTasks        Server-Sent Events; ?label=k=v
    POST   /v1/uploads                     UploadFiles       multipart/form-data (transfers.py)
    POST   /v1/tasks/{id}/reports          ExportTaskReport  body: {format}
    GET    /v1/reports/{id}                GetReport
    GET    /v1/reports/{id}/content        DownloadReport    the file
    GET    /v1/vapidPublicKey              GetVapidPublicKey
    POST   /v1/pushSubscriptions           CreatePushSubscription
    DELETE /v1/pushSubscriptions/{id}      DeletePushSubscription

Custom methods use AIP-136's `:verb`. Every call needs `Authorization: Bearer <key>`;
failures are problem details (problems.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from distill.v1 import notifications_pb2 as npb
from distill.v1 import pipeline_pb2 as ppb
from distill.v1 import task_pb2
from distill_core.errors import DistillError
from distill_core.logging import get_logger
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from distill_gateway.web import bridge, problems, sse
from distill_gateway.web.bridge import HttpCallContext, RpcAbort
from distill_gateway.web.jsonmap import (
    boolean,
    check_params,
    enum_list,
    enum_value,
    integer,
    labels,
    parse_body,
    to_json,
)
from distill_gateway.web.responses import problem_response
from distill_gateway.web.transfers import TransferRoutes

log = get_logger(__name__)

TASK_STATUS = task_pb2.TaskStatus.DESCRIPTOR
ITEM_STATUS = task_pb2.ItemStatus.DESCRIPTOR
ITEM_VIEW = task_pb2.ItemView.DESCRIPTOR
PAGING = ("page_size", "page_token")


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class Api(TransferRoutes):  # transfers.py: uploads and reports
    def __init__(self, pipeline: Any, notifications: Any, closing: asyncio.Event, max_body_bytes: int) -> None:
        self.pipeline = pipeline
        self.notifications = notifications
        self.closing = closing
        self.max_body_bytes = max_body_bytes

    def routes(self) -> list[Route]:
        return [
            Route("/v1/tasks", self.tasks, methods=["GET", "POST"]),
            Route("/v1/tasks/{name}", self.task, methods=["GET", "POST"]),
            Route("/v1/tasks/{id}/items", self.items, methods=["GET"]),
            Route("/v1/tasks/{id}/events", self.task_events, methods=["GET"]),
            Route("/v1/items/{id}", self.item, methods=["GET"]),
            Route("/v1/events", self.events, methods=["GET"]),
            Route("/v1/vapidPublicKey", self.vapid_public_key, methods=["GET"]),
            Route("/v1/pushSubscriptions", self.push_subscriptions, methods=["POST"]),
            Route("/v1/pushSubscriptions/{id}", self.push_subscription, methods=["DELETE"]),
            Route("/v1/uploads", self.upload, methods=["POST"]),
            Route("/v1/tasks/{id}/reports", self.task_reports, methods=["POST"]),
            Route("/v1/reports/{id}", self.report, methods=["GET"]),
            Route("/v1/reports/{id}/content", self.report_content, methods=["GET"]),
        ]

    # --- plumbing -------------------------------------------------------------------------

    @staticmethod
    def context(request: Request) -> HttpCallContext:
        return HttpCallContext(bridge.metadata_of(request.headers), bridge.peer_of(request.client))

    async def call(
        self,
        request: Request,
        method: Callable[..., Any],
        build: Callable[[], Any],
        shape: Callable[[Any], Any] | None = None,
    ) -> Response:
        """Build the request message (from the query or body), call the servicer, answer JSON
        (of `shape(response)` when given)."""
        context = self.context(request)
        try:
            message = await build()
        except DistillError as e:  # the request could not be read
            return await self.unreadable(request, method, context, e)
        except BodyTooLarge:
            too_big = DistillError(f"the request body is larger than the limit of {self.max_body_bytes} bytes")
            return await self.unreadable(request, method, context, too_big, status=413)
        try:
            response = await bridge.unary(method, message, context)
        except RpcAbort as e:
            return problem_response(e.code, e.details, request.url.path)
        return JSONResponse(to_json(shape(response) if shape else response))

    @staticmethod
    async def unreadable(
        request: Request, method: Any, context: HttpCallContext, error: DistillError, *, status: int | None = None
    ) -> Response:
        """A request that could not be read: UNAUTHENTICATED first when the key is bad (as a
        valid request would be answered), else what is wrong with it."""
        try:
            await method.__self__.auth(context)
        except DistillError as e:
            return problem_response(e.grpc_status, e.message, request.url.path)
        code = grpc.StatusCode.RESOURCE_EXHAUSTED if status == 413 else error.grpc_status
        return problem_response(code, error.message, request.url.path, status=status)

    def body(self, request: Request, cls: type[Message], **fields: Any) -> Callable[[], Any]:
        async def build() -> Message:
            check_params(request.query_params, [])
            message = parse_body(await read_body(request, self.max_body_bytes), cls)
            for k, v in fields.items():
                setattr(message, k, v)
            return message

        return build

    @staticmethod
    def query(request: Request, allowed: tuple[str, ...], make: Callable[[], Message]) -> Callable[[], Any]:
        async def build() -> Message:
            check_params(request.query_params, allowed)
            return make()

        return build

    # --- Pipeline -------------------------------------------------------------------------

    async def tasks(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.call(request, self.pipeline.CreateTask, self.body(request, ppb.CreateTaskRequest))
        q = request.query_params
        return await self.call(
            request,
            self.pipeline.ListTasks,
            self.query(
                request,
                ("status", "label", *PAGING),
                lambda: ppb.ListTasksRequest(
                    statuses=enum_list(TASK_STATUS, "status", q.getlist("status")),  # type: ignore[arg-type]
                    labels=labels("label", q.getlist("label")),
                    page_size=integer("page_size", q.get("page_size")),
                    page_token=q.get("page_token", ""),
                ),
            ),
        )

    async def task(self, request: Request) -> Response:
        task_id, _, verb = request.path_params["name"].partition(":")
        if request.method == "GET" and not verb:
            q = request.query_params
            return await self.call(
                request,
                self.pipeline.GetTask,
                self.query(
                    request,
                    ("include_items",),
                    lambda: ppb.GetTaskRequest(
                        id=task_id, include_items=boolean("include_items", q.get("include_items"))
                    ),
                ),
            )
        if request.method == "POST" and verb == "cancel":
            return await self.call(
                request, self.pipeline.CancelTask, self.body(request, ppb.CancelTaskRequest, id=task_id)
            )
        if request.method == "POST" and verb == "retry":
            return await self.call(
                request, self.pipeline.RetryTask, self.body(request, ppb.RetryTaskRequest, id=task_id)
            )
        if request.method == "POST":
            return problem_response(
                grpc.StatusCode.NOT_FOUND,
                f"no method {request.path_params['name']!r}: use POST /v1/tasks/{{id}}:cancel or :retry",
                request.url.path,
            )
        return problem_response(grpc.StatusCode.UNIMPLEMENTED, f"use POST for :{verb}", request.url.path, status=405)

    async def items(self, request: Request) -> Response:
        q = request.query_params
        return await self.call(
            request,
            self.pipeline.ListItems,
            self.query(
                request,
                ("status", *PAGING),
                lambda: ppb.ListItemsRequest(
                    task_id=request.path_params["id"],
                    statuses=enum_list(ITEM_STATUS, "status", q.getlist("status")),  # type: ignore[arg-type]
                    page_size=integer("page_size", q.get("page_size")),
                    page_token=q.get("page_token", ""),
                ),
            ),
        )

    async def item(self, request: Request) -> Response:
        view = request.query_params.get("view")
        return await self.call(
            request,
            self.pipeline.GetItem,
            self.query(
                request,
                ("view",),
                lambda: ppb.GetItemRequest(
                    id=request.path_params["id"],
                    view=enum_value(ITEM_VIEW, "view", view) if view else 0,  # type: ignore[arg-type]
                ),
            ),
        )

    # --- Notifications (what a browser needs for Web Push) ---------------------------------

    async def vapid_public_key(self, request: Request) -> Response:
        return await self.call(
            request,
            self.notifications.GetVapidPublicKey,
            self.query(request, (), npb.GetVapidPublicKeyRequest),
        )

    async def push_subscriptions(self, request: Request) -> Response:
        return await self.call(
            request, self.notifications.CreatePushSubscription, self.body(request, npb.CreatePushSubscriptionRequest)
        )

    async def push_subscription(self, request: Request) -> Response:
        return await self.call(
            request,
            self.notifications.DeletePushSubscription,
            self.body(request, npb.DeletePushSubscriptionRequest, id=request.path_params["id"]),
        )

    # --- Server-Sent Events ---------------------------------------------------------------

    async def task_events(self, request: Request) -> Response:
        def make() -> Message:
            h, q = request.headers, request.query_params
            start = sse.resume_sequence(h.get("last-event-id"), q.get("from_sequence"))
            return ppb.WatchTaskRequest(task_id=request.path_params["id"], from_sequence=start)

        return await self.event_stream(request, self.pipeline.WatchTask, ("from_sequence",), make)

    async def events(self, request: Request) -> Response:
        def make() -> Message:
            h, q = request.headers, request.query_params
            return ppb.WatchTasksRequest(
                from_sequence=sse.resume_sequence(h.get("last-event-id"), q.get("from_sequence")),
                labels=labels("label", q.getlist("label")),
            )

        return await self.event_stream(request, self.pipeline.WatchTasks, ("from_sequence", "label"), make)

    async def event_stream(
        self, request: Request, method: Callable[..., Any], allowed: tuple[str, ...], make: Callable[[], Message]
    ) -> Response:
        """Errors before the first event are plain problem answers (401, 404, ...); the stream
        starts only once the watch has produced its first event."""
        context = self.context(request)
        try:
            check_params(request.query_params, allowed)
            message = make()
        except DistillError as e:
            return await self.unreadable(request, method, context, e)
        events = bridge.stream(method, message, context)
        try:
            first = await anext(events)
        except RpcAbort as e:
            return problem_response(e.code, e.details, request.url.path)
        except StopAsyncIteration:
            return Response(status_code=204)
        resumed = int(getattr(message, "from_sequence", 0))
        if resumed and first.terminal and first.sequence <= resumed:
            # The task ended and the client has every event up to its end: 204 is what tells
            # an EventSource to stop reconnecting (HTML Living Standard, 9.2.3).
            await events.aclose()
            return Response(status_code=204)
        return StreamingResponse(
            self.frames(first, events, request.url.path), media_type=sse.CONTENT_TYPE, headers=sse.HEADERS
        )

    async def frames(self, first: Any, events: AsyncIterator[Any], instance: str) -> AsyncIterator[bytes]:
        """SSE frames until the task's last event, a failure, or the server beginning to stop
        (then the client reconnects with Last-Event-ID, to this gateway or another).

        Each step of the watch runs in a task of its own, raced against the server stopping.
        When the browser goes away, Starlette cancels this generator (anyio cancels every
        await after that); the watch is then closed from a task of its own, so its cleanup
        (unsubscribing from NATS) runs to the end."""
        closing = asyncio.ensure_future(self.closing.wait())
        step: asyncio.Future[Any] | None = None
        try:
            yield sse.event_frame(first, retry=sse.RETRY_MS)
            if first.terminal:
                return
            while True:
                step = asyncio.ensure_future(anext(events))
                await asyncio.wait({step, closing}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    return
                try:
                    ev = step.result()
                except StopAsyncIteration:
                    return
                yield sse.event_frame(ev)
                if ev.terminal:
                    return
        except RpcAbort as e:
            yield sse.problem_frame(problems.problem(e.code, e.details, instance)[1])
        finally:
            closing.cancel()
            cleanup = asyncio.ensure_future(_close_watch(step, events))
            _cleanups.add(cleanup)
            cleanup.add_done_callback(_cleanups.discard)
            with contextlib.suppress(BaseException):
                await asyncio.shield(cleanup)


_cleanups: set[asyncio.Future[None]] = set()


async def _close_watch(step: asyncio.Future[Any] | None, events: AsyncIterator[Any]) -> None:
    """Let the step in flight finish, then close the watch (which unsubscribes). A step ends
    within the watch's heartbeat interval; cancelling it instead could land while the watch
    subscribes to NATS, before it holds the subscription it would have to release."""
    if step is not None:
        with contextlib.suppress(BaseException):
            await step
    with contextlib.suppress(Exception):
        await events.aclose()  # type: ignore[attr-defined]
