"""The Pipeline service: submit, look, list, cancel, retry, watch."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc
from distill.internal.v1 import jobs_pb2
from distill.v1 import pipeline_pb2, pipeline_pb2_grpc, task_pb2
from distill_core import ai_models, convert, subjects, tracing
from distill_core.apikeys import Caller
from distill_core.db.models import AiOutput, ParsedContent
from distill_core.errors import FailedPrecondition, InvalidInput, NotFoundError
from distill_core.events import OutMsg, item_event, publish_all, task_event
from distill_core.logging import get_logger
from distill_core.runner.events import task_changed
from distill_core.settings import GatewaySettings
from distill_core.status import ITEM_STATUS_NAME, TASK_STATUS_NAME, TASK_TERMINAL, Counts
from distill_core.subjects import PRIORITY_NAME, STAGE_NAME
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from distill_gateway import control, dispatch, limits, paging, repo, validation
from distill_gateway.auth import Authenticator
from distill_gateway.calls import rpc, rpc_client_stream, rpc_stream
from distill_gateway.reports import ReportsMixin
from distill_gateway.uploads import Uploads
from distill_gateway.watch import Watcher

log = get_logger(__name__)

INPUT_FIRST_STAGE = {"url": "parse", "parsed_content": "ai", "ai_content": "notion", "file": "parse"}


class PipelineServicer(ReportsMixin, pipeline_pb2_grpc.PipelineServicer):  # reports.py: the report RPCs
    def __init__(
        self,
        settings: GatewaySettings,
        engine: AsyncEngine,
        js: JetStreamContext,
        nc: NATS | None = None,
        auth: Authenticator | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.js = js
        self.nc = nc
        self.auth = auth or Authenticator(engine)
        self.marks = dispatch.DispatchMarks(engine)
        self.create_limiter = limits.CreateTaskLimiter(engine, settings.create_task_rate, settings.create_task_burst)
        self.ai_models = ai_models.load_models()
        self.watcher = Watcher(settings, engine, js)
        self.uploads = Uploads(settings, engine, js, self.plan_options, self._existing, self.submit)
        self._background: set[asyncio.Task[Any]] = set()

    # --- CreateTask ----------------------------------------------------------------------

    def plan(self, req: pipeline_pb2.CreateTaskRequest) -> dict[str, Any]:
        """Validate and normalise a CreateTaskRequest into what will be stored."""
        given = [n for n in ("urls", "parsed_content_ids", "ai_content_ids") if len(getattr(req, n))]
        if not given:
            raise InvalidInput("one of urls, parsed_content_ids or ai_content_ids is required (none was given)")
        if len(given) > 1:
            raise InvalidInput(f"give only one of urls, parsed_content_ids or ai_content_ids (got {', '.join(given)})")
        limit = self.settings.max_urls_per_task
        if given[0] == "urls":
            kind = "url"
            inputs: list[str] = validation.normalize_urls(
                list(req.urls), max_urls=limit, max_length=self.settings.max_url_length
            )
        else:
            kind = "parsed_content" if given[0] == "parsed_content_ids" else "ai_content"
            inputs = [str(u) for u in validation.parse_ids(given[0], list(getattr(req, given[0])), max_ids=limit)]
        return {"input_kind": kind, "inputs": inputs, **self.plan_options(req, INPUT_FIRST_STAGE[kind])}

    def plan_options(self, req: Any, first: str) -> dict[str, Any]:
        """The options of a CreateTaskRequest or UploadOptions (stages from `first`), checked and normalised."""
        requested = []
        for s in req.stages:
            if s not in STAGE_NAME:
                raise InvalidInput(f"stages: unknown stage value {s}")
            requested.append(STAGE_NAME[s])
        stages = validation.resolve_stages(first, requested)
        if req.priority and req.priority not in PRIORITY_NAME:
            raise InvalidInput(f"priority: unknown value {req.priority}")
        ai_models.check_model_name(req.ai.model, self.ai_models)
        key = req.idempotency_key.strip()
        if len(key) > 200:
            raise InvalidInput("idempotency_key is longer than 200 characters")
        return {
            "stages": stages,
            "ai_options": convert.ai_options_from_proto(req.ai),
            "export_options": convert.export_options_from_proto(req.export),
            "priority": PRIORITY_NAME.get(req.priority, "normal"),
            "idempotency_key": key or None,
            "labels": validation.check_labels(dict(req.labels)),
        }

    @rpc
    async def CreateTask(
        self, request: pipeline_pb2.CreateTaskRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> task_pb2.Task:
        plan = self.plan(request)
        if plan["idempotency_key"]:  # the lookup of an earlier task comes first: the call counts before it
            await self.create_limiter.take(caller.tenant_id)
            task, _ = await self.submit(caller.tenant_id, plan, context)
        else:  # counted by the statement that stores the task
            task, _ = await self.submit(caller.tenant_id, plan, context, take=self.create_limiter)
        return task

    @rpc_client_stream
    async def UploadFiles(
        self,
        requests: AsyncIterator[pipeline_pb2.UploadFilesRequest],
        context: grpc.aio.ServicerContext,
        caller: Caller,
    ) -> task_pb2.Task:
        await self.create_limiter.take(caller.tenant_id)
        return await self.uploads.receive(requests, caller.tenant_id, context)

    async def _existing(self, tenant: str, key: str) -> task_pb2.Task | None:
        async with self.engine.connect() as conn:
            found = await repo.find_by_idempotency_key(conn, tenant, key)
        return await self._task_proto(found) if found else None

    async def submit(
        self,
        tenant: str,
        plan: dict[str, Any],
        context: grpc.aio.ServicerContext,
        attach: Callable[[Any, uuid.UUID], Awaitable[None]] | None = None,
        take: limits.CreateTaskLimiter | None = None,
    ) -> tuple[task_pb2.Task, bool]:
        """Store a planned task and its items in one transaction (`attach(conn, task_id)` runs in
        it too), then dispatch the jobs. Returns (task, created): with an idempotency key already
        used, the existing task and False. With `take`, the same statement counts the call against
        the tenant's rate limit, and a refused call stores nothing."""
        if plan["idempotency_key"] and (found := await self._existing(tenant, plan["idempotency_key"])):
            return found, False
        task_id = uuid.uuid4()
        trace = tracing.task_carrier(context.invocation_metadata())  # the task's trace: every job carries it
        task = {
            "id": task_id,
            "tenant_id": tenant,
            "status": "queued",
            "input_kind": plan["input_kind"],
            "stages": plan["stages"],
            "ai_options": plan["ai_options"],
            "export_options": plan["export_options"],
            "priority": plan["priority"],
            "idempotency_key": plan["idempotency_key"],
            "labels": plan["labels"],
            "total": len(plan["inputs"]),
            "trace": trace,
        }
        try:
            # Without `attach`, the task and its items are one statement: an autocommit
            # connection saves the BEGIN and COMMIT round trips.
            async with self.engine.begin() if attach else self.autocommit.connect() as conn:
                items = await self._items(conn, tenant, task_id, plan)
                rate = take.params(tenant) if take is not None else None
                row = await repo.insert_task(conn, task, items, rate)
                if row is None:  # only with `rate`: the limit refused the call
                    assert take is not None and rate is not None
                    await take.refuse(conn, rate)
                if attach is not None:
                    await attach(conn, task_id)
        except IntegrityError:
            # Same idempotency key in a concurrent request: that one won.
            async with self.engine.connect() as conn:
                found = await repo.find_by_idempotency_key(conn, tenant, plan["idempotency_key"] or "")
            if not found:
                raise
            return await self._task_proto(found), False
        counts = Counts(total=len(items), pending=len(items))
        proto = convert.task_to_proto(row, counts)
        jobs = [{**i, "priority": plan["priority"], "trace": trace} for i in items]
        created = task_event(tenant, proto, f"{task_id}:task:queued")
        await self._dispatch_now(jobs, [created])
        log.info(
            "task created",
            task_id=str(task_id),
            tenant_id=tenant,
            items=len(items),
            kind=plan["input_kind"],
            trace_id=tracing.trace_id(trace),
        )
        return proto, True

    async def _items(self, conn: Any, tenant: str, task_id: uuid.UUID, plan: dict[str, Any]) -> list[dict[str, Any]]:
        kind = plan["input_kind"]
        kinds = plan.get("input_kinds")  # per item, when they differ (an upload of files and URLs)
        first = plan["stages"][0]
        parsed: dict[str, uuid.UUID | None] = {}
        ai: dict[str, uuid.UUID | None] = {}
        if kind == "parsed_content":
            ids = [uuid.UUID(i) for i in plan["inputs"]]
            owned = await repo.content_owned(conn, tenant, ParsedContent.__table__, ids)
            _require_all("parsed_content_ids", ids, owned)
            parsed = {str(i): i for i in ids}
        elif kind == "ai_content":
            ids = [uuid.UUID(i) for i in plan["inputs"]]
            owned = await repo.content_owned(conn, tenant, AiOutput.__table__, ids)
            _require_all("ai_content_ids", ids, owned)
            ai = {str(i): i for i in ids}
            parsed = {str(k): v for k, v in (await repo.parsed_of_ai_outputs(conn, ids)).items()}
        return [
            {
                "id": uuid.uuid4(),
                "task_id": task_id,
                "tenant_id": tenant,
                "position": n,
                "input_kind": kinds[n] if kinds else kind,
                "input": value,
                "status": "pending",
                "current_stage": first,
                "generation": 0,
                "parsed_content_id": parsed.get(value),
                "ai_output_id": ai.get(value),
            }
            for n, value in enumerate(plan["inputs"])
        ]

    async def _dispatch_now(self, jobs: list[dict[str, Any]], events: Sequence[OutMsg]) -> None:
        """Publish the jobs (and events); if JetStream is slow, answer anyway (the relay finishes)."""
        t = asyncio.create_task(dispatch.dispatch(self.js, self.engine, jobs, events, self.marks))
        self._background.add(t)
        t.add_done_callback(self._background.discard)
        t.add_done_callback(_log_dispatch_failure)
        try:
            await asyncio.wait_for(asyncio.shield(t), timeout=2.0)
        except Exception:
            pass

    # --- reading -------------------------------------------------------------------------

    async def _task_proto(self, row: dict[str, Any], *, include_items: bool = False) -> task_pb2.Task:
        async with self.engine.connect() as conn:
            counts = (await repo.counts(conn, [row["id"]])).get(row["id"], Counts())
            items = await self._item_protos(conn, row["tenant_id"], row["id"]) if include_items else []
        return convert.task_to_proto(row, counts, items)

    async def _item_protos(self, conn: Any, tenant: str, task_id: uuid.UUID, **kw: Any) -> list[task_pb2.Item]:
        return await self._items_to_protos(conn, await repo.items_of(conn, tenant, task_id, **kw))

    async def _items_to_protos(self, conn: Any, items: list[dict[str, Any]]) -> list[task_pb2.Item]:
        phases = await repo.phases_of(conn, [i["id"] for i in items])
        parsed, ai, exports = await repo.results_of(conn, items, with_text=False)
        return [
            convert.item_to_proto(
                i,
                phases.get(i["id"], []),
                parsed=parsed.get(i["parsed_content_id"]),
                ai=ai.get(i["ai_output_id"]),
                export=exports.get(i["export_id"]),
            )
            for i in items
        ]

    @rpc
    async def GetTask(
        self, request: pipeline_pb2.GetTaskRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> task_pb2.Task:
        task_id = validation.parse_id("id", request.id)
        async with self.engine.connect() as conn:
            row = await repo.get_task(conn, caller.tenant_id, task_id)
        if row is None:
            raise NotFoundError(f"task {request.id} not found")
        return await self._task_proto(row, include_items=request.include_items)

    @rpc
    async def GetItem(
        self, request: pipeline_pb2.GetItemRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> task_pb2.Item:
        item_id = validation.parse_id("id", request.id)
        full = request.view == task_pb2.FULL
        async with self.engine.connect() as conn:
            item = await repo.get_item(conn, caller.tenant_id, item_id)
            if item is None:
                raise NotFoundError(f"item {request.id} not found")
            phases = await repo.phases_of(conn, [item_id])
            parsed, ai, exports = await repo.results_of(conn, [item], with_text=full)
        return convert.item_to_proto(
            item,
            phases.get(item_id, []),
            parsed=parsed.get(item["parsed_content_id"]),
            ai=ai.get(item["ai_output_id"]),
            export=exports.get(item["export_id"]),
            full=full,
        )

    # --- listing -------------------------------------------------------------------------

    def _page_size(self, requested: int) -> int:
        return paging.page_size(requested, default=self.settings.default_page_size, maximum=self.settings.max_page_size)

    @rpc
    async def ListTasks(
        self, request: pipeline_pb2.ListTasksRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> pipeline_pb2.ListTasksResponse:
        size = self._page_size(request.page_size)
        statuses = validation.status_filter("statuses", list(request.statuses), TASK_STATUS_NAME)
        labels = validation.check_labels(dict(request.labels))
        fp = paging.fingerprint("ListTasks", caller.tenant_id, {"statuses": statuses, "labels": labels})
        after = validation.time_cursor(paging.decode_token(request.page_token, fp))
        async with self.engine.connect() as conn:
            rows, total = await repo.list_tasks(
                conn, caller.tenant_id, statuses=statuses, labels=labels, after=after, limit=size + 1
            )
            page = rows[:size]
            counts = await repo.counts(conn, [r["id"] for r in page])
        token = ""
        if len(rows) > size:
            last = page[-1]
            token = paging.encode_token(fp, [last["created_at"].isoformat(), str(last["id"])])
        return pipeline_pb2.ListTasksResponse(
            tasks=[convert.task_to_proto(r, counts.get(r["id"], Counts())) for r in page],
            next_page_token=token,
            total_size=total,
        )

    @rpc
    async def ListItems(
        self, request: pipeline_pb2.ListItemsRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> pipeline_pb2.ListItemsResponse:
        task_id = validation.parse_id("task_id", request.task_id)
        size = self._page_size(request.page_size)
        statuses = validation.status_filter("statuses", list(request.statuses), ITEM_STATUS_NAME)
        fp = paging.fingerprint("ListItems", caller.tenant_id, {"task": str(task_id), "statuses": statuses})
        after = validation.position_cursor(paging.decode_token(request.page_token, fp))
        async with self.engine.connect() as conn:
            if await repo.get_task(conn, caller.tenant_id, task_id) is None:
                raise NotFoundError(f"task {request.task_id} not found")
            rows, total = await repo.list_items(
                conn, caller.tenant_id, task_id, statuses=statuses, after=after, limit=size + 1
            )
            items = await self._items_to_protos(conn, rows[:size])
        token = paging.encode_token(fp, [rows[size - 1]["position"]]) if len(rows) > size else ""
        return pipeline_pb2.ListItemsResponse(items=items, next_page_token=token, total_size=total)

    # --- cancel and retry ----------------------------------------------------------------

    async def _owned_task(self, tenant: str, field: str, raw_id: str) -> dict[str, Any]:
        task_id = validation.parse_id(field, raw_id)
        async with self.engine.connect() as conn:
            row = await repo.get_task(conn, tenant, task_id)
        if row is None:
            raise NotFoundError(f"task {raw_id} not found")
        return row

    @rpc
    async def CancelTask(
        self, request: pipeline_pb2.CancelTaskRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> task_pb2.Task:
        row = await self._owned_task(caller.tenant_id, "id", request.id)
        tenant, task_id = caller.tenant_id, row["id"]
        task: dict[str, Any] | None = None
        if row["finished_at"] is None and row["status"] not in TASK_TERMINAL:
            async with self.engine.begin() as conn:
                task, items = await control.cancel_task(conn, tenant, task_id)
                counts = (await repo.counts(conn, [task_id])).get(task_id, Counts()) if task else Counts()
        if task is None:
            async with self.engine.connect() as conn:
                now = await repo.get_task(conn, tenant, task_id)
            status = (now or row)["status"]
            raise FailedPrecondition(f"task {request.id} has already finished ({status}); there is nothing to cancel")
        await self._interrupt(str(task_id))
        await self._publish_now([_cancelled_event(tenant, i) for i in items])
        await self._publish_now([task_changed(task, counts, terminal=True)])
        log.info("task cancelled", task_id=str(task_id), tenant_id=tenant, items=len(items))
        return convert.task_to_proto(task, counts)

    async def _interrupt(self, task_id: str) -> None:
        """Tell every stage worker to stop the task's running attempts (core NATS, not persisted)."""
        nc = self.nc or getattr(self.js, "_nc", None)
        if nc is None:
            return
        try:
            await nc.publish(subjects.CANCEL_SUBJECT, jobs_pb2.CancelRequest(task_id=task_id).SerializeToString())
            await nc.flush(timeout=2)
        except Exception as e:  # the items are cancelled anyway; a running attempt just finishes unrecorded
            log.warning("could not publish the cancel request", task_id=task_id, error=str(e)[:200])

    async def _publish_now(self, msgs: list[OutMsg]) -> None:
        try:
            await publish_all(self.js, msgs)
        except Exception as e:
            log.warning("could not publish events", count=len(msgs), error=str(e)[:200])

    @rpc
    async def RetryTask(
        self, request: pipeline_pb2.RetryTaskRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> pipeline_pb2.RetryTaskResponse:
        row = await self._owned_task(caller.tenant_id, "id", request.id)
        item_ids = validation.id_list("item_ids", list(request.item_ids))
        stage = validation.stage_filter("stage", request.stage)
        code = validation.error_code_filter(request.error_code)
        async with self.engine.begin() as conn:
            if item_ids:
                strangers = await control.items_not_in_task(conn, caller.tenant_id, row["id"], item_ids)
                if strangers:
                    raise InvalidInput(f"item_ids: {validation.some_ids(strangers)} are not items of task {row['id']}")
            ids = await control.failed_items(
                conn, caller.tenant_id, row["id"], item_ids=item_ids, stage=stage, error_code=code
            )
            items, tasks = await control.rerun(conn, caller.tenant_id, ids)
        await self.redispatch(items, tasks)
        log.info("task retried", task_id=str(row["id"]), tenant_id=caller.tenant_id, items=len(items))
        async with self.engine.connect() as conn:
            fresh = await repo.get_task(conn, caller.tenant_id, row["id"])
        return pipeline_pb2.RetryTaskResponse(task=await self._task_proto(fresh or row), retried_count=len(items))

    async def redispatch(self, items: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> None:
        """Publish the jobs of re-run items and the events saying so (after the commit)."""
        if not items:
            return
        by_task = {t["id"]: t for t in tasks}
        jobs = [
            {**i, "priority": by_task[i["task_id"]]["priority"], "trace": by_task[i["task_id"]].get("trace") or {}}
            for i in items
            if i["task_id"] in by_task
        ]
        events = [_rerun_event(i) for i in items]
        async with self.engine.connect() as conn:
            counts = await repo.counts(conn, list(by_task))
        for t in tasks:
            proto = convert.task_to_proto(t, counts.get(t["id"], Counts()))
            events.append(task_event(t["tenant_id"], proto, f"{t['id']}:task:reopened:{t['updated_at'].isoformat()}"))
        await self._dispatch_now(jobs, events)

    # --- watching ------------------------------------------------------------------------

    @rpc_stream
    async def WatchTask(
        self, request: pipeline_pb2.WatchTaskRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> AsyncIterator[task_pb2.TaskEvent]:
        task_id = validation.parse_id("task_id", request.task_id)
        async with self.engine.connect() as conn:
            row = await repo.get_task(conn, caller.tenant_id, task_id)
        if row is None:
            raise NotFoundError(f"task {request.task_id} not found")

        async def snapshot() -> task_pb2.Task:
            async with self.engine.connect() as conn:
                fresh = await repo.get_task(conn, caller.tenant_id, task_id)
            return await self._task_proto(fresh or row, include_items=True)

        async for ev in self.watcher.watch_task(caller.tenant_id, str(task_id), request.from_sequence, snapshot):
            yield ev

    @rpc_stream
    async def WatchTasks(
        self, request: pipeline_pb2.WatchTasksRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> AsyncIterator[task_pb2.TaskEvent]:
        wanted = validation.check_labels(dict(request.labels))
        tenant = caller.tenant_id

        async def labels_of(task_id: str) -> dict[str, str] | None:
            try:
                tid = uuid.UUID(task_id)
            except ValueError:
                return None
            async with self.engine.connect() as conn:
                return await repo.task_labels(conn, tenant, tid)

        async for ev in self.watcher.watch_tasks(tenant, request.from_sequence, wanted, labels_of):
            yield ev


def _require_all(field: str, wanted: list[uuid.UUID], found: set[uuid.UUID]) -> None:
    missing = [i for i in wanted if i not in found]
    if missing:
        raise InvalidInput(f"{field}: {validation.some_ids(missing)} do not exist")


def _cancelled_event(tenant: str, row: dict[str, Any]) -> OutMsg:
    phase = {"stage": row["current_stage"], "status": "cancelled", "finished_at": row["finished_at"]}
    item = convert.item_to_proto({**row, "status": "cancelled"}, [phase])
    return item_event(tenant, item, f"{row['id']}:cancelled")


def _rerun_event(row: dict[str, Any]) -> OutMsg:
    phase = {"stage": row["current_stage"], "status": "pending"}
    item = convert.item_to_proto({**row, "status": "pending"}, [phase])
    return item_event(row["tenant_id"], item, f"{row['id']}:rerun:{row['generation']}")


def _log_dispatch_failure(t: asyncio.Task[Any]) -> None:
    if not t.cancelled() and t.exception() is not None:
        log.warning("dispatch after commit failed; the outbox relay will publish", error=str(t.exception())[:200])
