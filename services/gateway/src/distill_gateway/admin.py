"""The Admin service: workers, queues, statistics and dead letters.

Workers and queue lanes are the deployment's machinery, shared by every tenant (a worker's
current item ids belong to whoever submitted them): only admin API keys see them
(`distill keys create --admin`; PERMISSION_DENIED otherwise). Statistics and dead
letters are the caller's own (its tenant's), like everything else, admin or not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from distill.v1 import admin_pb2, admin_pb2_grpc
from distill_core.apikeys import Caller
from distill_core.errors import InvalidInput
from distill_core.logging import get_logger
from distill_core.settings import GatewaySettings
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from distill_gateway import control, deadletters, fleet, paging, statistics, validation
from distill_gateway.auth import Authenticator
from distill_gateway.calls import rpc

log = get_logger(__name__)

Redispatch = Callable[[list[dict[str, Any]], list[dict[str, Any]]], Awaitable[None]]


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(
        self,
        settings: GatewaySettings,
        engine: AsyncEngine,
        js: JetStreamContext,
        redispatch: Redispatch,
        auth: Authenticator | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.js = js
        self.auth = auth or Authenticator(engine)
        self.redispatch = redispatch

    @rpc(admin=True)
    async def ListWorkers(
        self, request: admin_pb2.ListWorkersRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> admin_pb2.ListWorkersResponse:
        validation.stage_filter("stage", request.stage)
        ttl = self.settings.worker_ttl
        workers = await fleet.list_workers(self.js, ttl, request.stage)
        d = Duration()
        d.FromMilliseconds(int(ttl * 1000))
        return admin_pb2.ListWorkersResponse(workers=workers, ttl=d)

    @rpc(admin=True)
    async def GetQueueStats(
        self, request: admin_pb2.GetQueueStatsRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> admin_pb2.QueueStats:
        lanes = await fleet.lane_stats(self.js)
        async with self.engine.connect() as conn:
            dead = await deadletters.count_by_stage(conn)
        now = Timestamp()
        now.GetCurrentTime()
        return admin_pb2.QueueStats(lanes=lanes, dead_lettered=dead, time=now)

    @rpc
    async def GetStatistics(
        self, request: admin_pb2.GetStatisticsRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> admin_pb2.Statistics:
        seconds = statistics.window_seconds(request.window, request.HasField("window"))
        until = datetime.now(UTC)
        since = until - timedelta(seconds=seconds)
        async with self.engine.connect() as conn:
            return await statistics.statistics(conn, caller.tenant_id, since, until)

    @rpc
    async def ListDeadLetters(
        self, request: admin_pb2.ListDeadLettersRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> admin_pb2.ListDeadLettersResponse:
        size = paging.page_size(
            request.page_size, default=self.settings.default_page_size, maximum=self.settings.max_page_size
        )
        stage = validation.stage_filter("stage", request.stage)
        task_id = validation.parse_id("task_id", request.task_id) if request.task_id else None
        code = validation.error_code_filter(request.error_code)
        query = {"stage": stage, "task": str(task_id or ""), "code": code}
        fp = paging.fingerprint("ListDeadLetters", caller.tenant_id, query)
        after = validation.time_cursor(paging.decode_token(request.page_token, fp))
        async with self.engine.connect() as conn:
            rows, total = await deadletters.page(
                conn, caller.tenant_id, stage=stage, task_id=task_id, code=code, after=after, limit=size + 1
            )
        token = ""
        if len(rows) > size:
            last = rows[size - 1]
            token = paging.encode_token(fp, [last["created_at"].isoformat(), str(last["id"])])
        return admin_pb2.ListDeadLettersResponse(
            dead_letters=[deadletters.to_proto(r) for r in rows[:size]], next_page_token=token, total_size=total
        )

    async def _selected(self, conn: Any, caller: Caller, request: Any) -> list[Any]:
        """The dead letters a Replay/Purge request names: ids (all must exist) or all=true with filters."""
        ids = validation.id_list("ids", list(request.ids), max_ids=10_000)
        if ids and request.all:
            raise InvalidInput("give either ids or all=true, not both")
        if not ids and not request.all:
            raise InvalidInput("give the dead letters' ids, or all=true (narrowed by stage and task_id)")
        stage = validation.stage_filter("stage", request.stage)
        task_id = validation.parse_id("task_id", request.task_id) if request.task_id else None
        if ids:
            gone = await deadletters.missing(conn, caller.tenant_id, ids)
            if gone:
                raise InvalidInput(f"ids: {validation.some_ids(gone)} are not dead letters")
        return await deadletters.select(conn, caller.tenant_id, ids=ids, stage=stage, task_id=task_id)

    @rpc
    async def ReplayDeadLetters(
        self, request: admin_pb2.ReplayDeadLettersRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> admin_pb2.ReplayDeadLettersResponse:
        async with self.engine.begin() as conn:
            ids = await self._selected(conn, caller, request)
            item_ids = await control.replayable_items(conn, caller.tenant_id, ids)
            items, tasks = await control.rerun(conn, caller.tenant_id, item_ids)
            # Records of items re-run are gone with the re-run; the rest are stale.
            skipped = await deadletters.delete(conn, caller.tenant_id, ids)
        await self.redispatch(items, tasks)
        log.info("dead letters replayed", tenant_id=caller.tenant_id, replayed=len(items), skipped=skipped)
        return admin_pb2.ReplayDeadLettersResponse(replayed_count=len(items), skipped_count=skipped)

    @rpc
    async def PurgeDeadLetters(
        self, request: admin_pb2.PurgeDeadLettersRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> admin_pb2.PurgeDeadLettersResponse:
        async with self.engine.begin() as conn:
            ids = await self._selected(conn, caller, request)
            purged = await deadletters.delete(conn, caller.tenant_id, ids)
        log.info("dead letters purged", tenant_id=caller.tenant_id, purged=purged)
        return admin_pb2.PurgeDeadLettersResponse(purged_count=purged)
