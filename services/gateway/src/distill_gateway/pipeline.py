"""The Pipeline service: submit, look, watch."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
from distill.v1 import pipeline_pb2, pipeline_pb2_grpc, task_pb2
from distill_core import ai_models, convert, errors
from distill_core.apikeys import Caller
from distill_core.db.models import AiOutput, ParsedContent
from distill_core.errors import DistillError, InvalidInput, NotFoundError
from distill_core.events import task_event
from distill_core.logging import get_logger
from distill_core.settings import GatewaySettings
from distill_core.status import Counts
from distill_core.subjects import PRIORITY_NAME, STAGE_NAME
from nats.js import JetStreamContext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from distill_gateway import dispatch, repo, validation
from distill_gateway.auth import Authenticator
from distill_gateway.watch import Watcher

log = get_logger(__name__)

INPUT_FIRST_STAGE = {"url": "parse", "parsed_content": "ai", "ai_content": "notion"}


def rpc(fn: Any) -> Any:
    """Authenticate, then run; DistillErrors become their canonical gRPC status."""

    async def wrapper(self: PipelineServicer, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            caller = await self.auth(context)
            return await fn(self, request, context, caller)
        except DistillError as e:
            await errors.abort(context, e)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def rpc_stream(fn: Any) -> Any:
    async def wrapper(self: PipelineServicer, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            caller = await self.auth(context)
            async for ev in fn(self, request, context, caller):
                yield ev
        except DistillError as e:
            await errors.abort(context, e)

    wrapper.__name__ = fn.__name__
    return wrapper


class PipelineServicer(pipeline_pb2_grpc.PipelineServicer):
    def __init__(self, settings: GatewaySettings, engine: AsyncEngine, js: JetStreamContext) -> None:
        self.settings = settings
        self.engine = engine
        self.js = js
        self.auth = Authenticator(engine)
        self.ai_models = ai_models.load_models()
        self.watcher = Watcher(settings, engine, js)
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
        requested = []
        for s in req.stages:
            if s not in STAGE_NAME:
                raise InvalidInput(f"stages: unknown stage value {s}")
            requested.append(STAGE_NAME[s])
        stages = validation.resolve_stages(INPUT_FIRST_STAGE[kind], requested)
        if req.priority and req.priority not in PRIORITY_NAME:
            raise InvalidInput(f"priority: unknown value {req.priority}")
        ai_models.check_model_name(req.ai.model, self.ai_models)
        key = req.idempotency_key.strip()
        if len(key) > 200:
            raise InvalidInput("idempotency_key is longer than 200 characters")
        return {
            "input_kind": kind,
            "inputs": inputs,
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
        tenant = caller.tenant_id
        if plan["idempotency_key"]:
            async with self.engine.connect() as conn:
                found = await repo.find_by_idempotency_key(conn, tenant, plan["idempotency_key"])
            if found:
                return await self._task_proto(found)
        task_id = uuid.uuid4()
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
            "trace": {},
        }
        try:
            async with self.engine.begin() as conn:
                items = await self._items(conn, tenant, task_id, plan)
                await repo.insert_task(conn, task, items)
                row = await repo.get_task(conn, tenant, task_id)
        except IntegrityError:
            # Same idempotency key in a concurrent request: that one won.
            async with self.engine.connect() as conn:
                found = await repo.find_by_idempotency_key(conn, tenant, plan["idempotency_key"] or "")
            if not found:
                raise
            return await self._task_proto(found)
        assert row is not None
        counts = Counts(total=len(items), pending=len(items))
        proto = convert.task_to_proto(row, counts)
        jobs = [{**i, "priority": plan["priority"], "trace": {}} for i in items]
        created = task_event(tenant, proto, f"{task_id}:task:queued")
        await self._dispatch_now(jobs, created)
        log.info("task created", task_id=str(task_id), tenant_id=tenant, items=len(items), kind=plan["input_kind"])
        return proto

    async def _items(self, conn: Any, tenant: str, task_id: uuid.UUID, plan: dict[str, Any]) -> list[dict[str, Any]]:
        kind = plan["input_kind"]
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
            from sqlalchemy import select

            rows = await conn.execute(select(AiOutput.id, AiOutput.parsed_content_id).where(AiOutput.id.in_(ids)))
            parsed = {str(r.id): r.parsed_content_id for r in rows}
        return [
            {
                "id": uuid.uuid4(),
                "task_id": task_id,
                "tenant_id": tenant,
                "position": n,
                "input_kind": kind,
                "input": value,
                "status": "pending",
                "current_stage": first,
                "generation": 0,
                "parsed_content_id": parsed.get(value),
                "ai_output_id": ai.get(value),
            }
            for n, value in enumerate(plan["inputs"])
        ]

    async def _dispatch_now(self, jobs: list[dict[str, Any]], created: Any) -> None:
        """Publish the first jobs; if JetStream is slow, answer anyway (the relay finishes)."""
        t = asyncio.create_task(dispatch.dispatch(self.js, self.engine, jobs, [created]))
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
        items = await repo.items_of(conn, tenant, task_id, **kw)
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


def _require_all(field: str, wanted: list[uuid.UUID], found: set[uuid.UUID]) -> None:
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise InvalidInput(f"{field}: {', '.join(missing[:3])}{more} do not exist")


def _log_dispatch_failure(t: asyncio.Task[Any]) -> None:
    if not t.cancelled() and t.exception() is not None:
        log.warning("dispatch after commit failed; the outbox relay will publish", error=str(t.exception())[:200])
