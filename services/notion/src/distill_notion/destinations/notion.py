"""The `notion` destination: one page per item in a Notion database, exactly once.

A publish, under a PostgreSQL advisory lock on (item, destination):

1. resolve the target (database -> its data source under Notion-Version 2025-09-03) and
   its property schema; build the properties and the body blocks (pure, within limits);
2. if the ledger says this exact content is complete there: done, no call at all;
3. if a page exists for an older content: move it to the trash (a fresh page follows);
4. write the intent (ledger 'creating'), then look for a page whose Distill ID property
   holds the item id; adopt it if found, else create the page with the first batch of
   blocks; record its id at once (ledger 'created');
5. count the page's top-level blocks (when resuming: an append may have landed before a
   crash) and append the rest in batches of at most 100 blocks, 1,000 elements and 450 KB;
6. ledger 'complete'.

A worker killed anywhere, a redelivered job or a timeout whose request did succeed all
end in step 2 or 4-5 on the next attempt: the page is found, never made twice.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from distill_core import failpoints
from distill_core.errors import FailedPrecondition, InvalidInput, NotFoundError, PermanentError, RetryableError
from distill_core.logging import get_logger
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from distill_notion import ledger
from distill_notion import notion_blocks as nb
from distill_notion import notion_properties as nprops
from distill_notion.destinations.base import ExportJob, Published
from distill_notion.notion_api import AmbiguousWrite, NotionApi
from distill_notion.ratelimit import SharedRateLimiter, token_key
from distill_notion.settings import ExportSettings

log = get_logger(__name__)


@dataclass
class Target:
    """Where pages go: a data source (2025-09-03) or a database (2022-06-28), with its schema."""

    kind: str  # "data_source" | "database"
    id: str
    database_id: str
    schema: dict[str, str]  # property name -> type
    fetched: float = 0.0

    @property
    def parent(self) -> dict[str, str]:
        key = f"{self.kind}_id"
        return {"type": key, key: self.id}


def schema_of(obj: dict[str, Any]) -> dict[str, str]:
    return {name: str(p.get("type")) for name, p in (obj.get("properties") or {}).items()}


class Targets:
    """Resolves and caches targets (ids as given -> Target) for `ttl` seconds."""

    def __init__(self, api: NotionApi, ttl: float = 300.0) -> None:
        self.api = api
        self.ttl = ttl
        self._cache: dict[str, Target] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def forget(self, raw_id: str) -> None:
        self._cache.pop(raw_id, None)

    async def resolve(self, raw_id: str) -> Target:
        t = self._cache.get(raw_id)
        if t is not None and time.monotonic() - t.fetched < self.ttl:
            return t
        async with self._locks.setdefault(raw_id, asyncio.Lock()):
            t = self._cache.get(raw_id)
            if t is not None and time.monotonic() - t.fetched < self.ttl:
                return t
            t = await self._fetch(raw_id)
            t.fetched = time.monotonic()
            self._cache[raw_id] = t
            return t

    async def _fetch(self, raw_id: str) -> Target:
        try:
            nid = nprops.normalize_id(raw_id)
        except ValueError as e:
            raise InvalidInput(str(e), code="NOTION_BAD_DATABASE_ID") from None
        if not self.api.data_sources:
            db = await self.api.retrieve_database(nid)
            return Target("database", nid, nid, schema_of(db))
        try:
            db = await self.api.retrieve_database(nid)
        except NotFoundError:
            # Perhaps the id of one of a database's data sources.
            ds = await self.api.retrieve_data_source(nid)
            parent = ds.get("parent") or {}
            return Target("data_source", nid, str(parent.get("database_id") or ""), schema_of(ds))
        sources = db.get("data_sources") or []
        if len(sources) != 1:
            names = ", ".join(f"{s.get('name') or 'untitled'} ({s.get('id')})" for s in sources) or "none"
            raise FailedPrecondition(
                f"the Notion database {nid} has {len(sources)} data sources ({names}): give the id of the one "
                "to publish to as the database id",
                code="NOTION_AMBIGUOUS_DATABASE",
            )
        ds_id = str(sources[0]["id"])
        ds = await self.api.retrieve_data_source(ds_id)
        return Target("data_source", ds_id, nid, schema_of(ds))


class NotionDestination:
    name = "notion"

    def __init__(self, settings: ExportSettings, engine: AsyncEngine, api: NotionApi | None = None) -> None:
        self.settings = settings
        self.engine = engine
        if api is None:
            token = settings.notion_token.get_secret_value() if settings.notion_token else ""
            limiter = SharedRateLimiter(
                engine,
                token_key(token) if token else "notion:none",
                settings.notion_rate_limit,
                burst=settings.notion_rate_burst,
                max_wait=settings.notion_max_wait,
            )
            api = NotionApi(
                settings.notion_base_url,
                token,
                settings.notion_version,
                limiter,
                timeout=settings.notion_request_timeout,
                retries=settings.notion_retries,
                max_wait=settings.notion_max_wait,
            )
        self.api = api
        self.targets = Targets(api, settings.notion_schema_ttl)

    async def close(self) -> None:
        await self.api.close()

    # --- building --------------------------------------------------------------------------

    def plan(self, job: ExportJob, target: Target) -> tuple[dict[str, Any], list[nb.Block], str]:
        """(properties, blocks, content hash) for the job in `target` (pure)."""
        try:
            props, notes = nprops.build(job.doc, target.schema, self.settings.property_names, job.properties)
        except nprops.SchemaError as e:
            raise PermanentError(str(e), code="NOTION_SCHEMA") from None
        for note in notes:
            log.debug("notion property left out", note=note)
        blocks = nb.body_blocks(
            job.doc, include_text=job.include_text, ingredients_as=self.settings.notion_ingredients_as
        )
        return props, blocks, ledger.content_hash(target.id, props, blocks)

    # --- publishing ------------------------------------------------------------------------

    async def publish(self, job: ExportJob) -> Published:
        raw_id = job.options.get("notion_database_id") or self.settings.notion_database_id
        if not raw_id:
            raise InvalidInput(
                "no Notion database to publish to: set DISTILL_NOTION_DATABASE_ID or the task's "
                "export.notion_database_id",
                code="NOTION_NOT_CONFIGURED",
            )
        target = await self.targets.resolve(str(raw_id))
        props, blocks, digest = self.plan(job, target)
        key = ledger.lock_key(job.item_id, self.name)
        async with self.engine.connect() as conn:
            if not await ledger.try_lock(conn, key):
                raise RetryableError(
                    "another worker is publishing this item right now", code="EXPORT_IN_PROGRESS", retry_after=5.0
                )
            try:
                return await self._publish_locked(conn, job, target, props, blocks, digest)
            finally:
                try:
                    await ledger.unlock(conn, key)
                except BaseException:
                    await conn.invalidate()  # closing the session releases the lock

    async def _publish_locked(
        self,
        conn: AsyncConnection,
        job: ExportJob,
        target: Target,
        props: dict[str, Any],
        blocks: list[nb.Block],
        digest: str,
    ) -> Published:
        rec = await ledger.load(conn, job.item_id, self.name)
        if rec is not None and rec.target != target.id:
            rec = None  # published elsewhere before: this target starts afresh (the ledger row is reset)
        if rec and rec.state == "complete" and rec.content_hash == digest and rec.external_id:
            return Published(rec.external_id, rec.url, "already published")
        page_id, url = (rec.external_id, rec.url) if rec else (None, None)
        if page_id and rec and rec.content_hash != digest:
            # The item's results changed since that page was made: it goes to the trash and a
            # new page replaces it (the Distill ID lookup skips trashed pages).
            await self.api.update_page(page_id, {"in_trash": True} if self.api.data_sources else {"archived": True})
            log.info("replaced an outdated notion page", page_id=page_id)
            page_id = None
        for _ in range(2):
            done: int | None = None  # blocks known to be in the page; None: count them
            if page_id is None:
                page_id, url, done = await self._create(conn, job, target, props, blocks, digest, look=rec is not None)
            try:
                await self._append_rest(job, page_id, blocks, done)
                break
            except NotFoundError:
                if done is not None:
                    raise
                # The recorded page is gone (deleted in Notion): publish a new one.
                log.warning("the recorded notion page no longer exists; creating another", page_id=page_id)
                page_id, rec = None, rec or ledger.Record(job.result_id, None, None, "creating", target.id, digest)
        await ledger.complete(conn, job.item_id, self.name)
        return Published(page_id, url)

    async def _create(
        self,
        conn: AsyncConnection,
        job: ExportJob,
        target: Target,
        props: dict[str, Any],
        blocks: list[nb.Block],
        digest: str,
        *,
        look: bool,
    ) -> tuple[str, str | None, int | None]:
        """Find or create the page; (page id, url, blocks known to be in it or None)."""
        look = look or self.settings.notion_lookup == "always"
        await ledger.begin(
            conn,
            id=job.result_id,
            tenant_id=job.tenant_id,
            item_id=job.item_id,
            destination=self.name,
            target=target.id,
            digest=digest,
        )
        page = await self.find_page(target, job.item_id) if look else None
        done = None
        if page is None:
            first_budget = nb.PAYLOAD_BUDGET - nb.size({"parent": target.parent, "properties": props})
            first = next(nb.batches(blocks, first_budget=first_budget), [])
            page = await self.api.create_page({"parent": target.parent, "properties": props, "children": first})
            failpoints.crash("notion.crash_after_create", f"{job.input}#attempt{job.attempt}")
            done = len(first)
        page_id, url = str(page["id"]), page.get("url")
        await ledger.created(conn, job.item_id, self.name, page_id, url)
        return page_id, url, done

    async def find_page(self, target: Target, item_id: str) -> dict[str, Any] | None:
        """The live page whose Distill ID property holds `item_id` (the oldest, if several)."""
        body = {"filter": nprops.distill_id_filter(self.settings.property_names, item_id), "page_size": 10}
        found = await self.api.query(target.kind, target.id, body)
        pages = [
            p
            for p in found.get("results") or []
            if p.get("object", "page") == "page" and not p.get("in_trash") and not p.get("archived")
        ]
        if len(pages) > 1:
            log.warning("several notion pages carry one item id; keeping the oldest", item_id=item_id, count=len(pages))
        return min(pages, key=lambda p: str(p.get("created_time") or "")) if pages else None

    async def _append_rest(self, job: ExportJob, page_id: str, blocks: list[nb.Block], done: int | None) -> None:
        """Append blocks[done:]; `done` None means unknown (resuming): count what the page has."""
        ambiguous = 0
        while True:
            if done is None:
                done = await self.api.count_children(page_id)
            if done >= len(blocks):
                return
            try:
                for batch in nb.batches(blocks[done:]):
                    await self.api.append_children(page_id, batch)
                    failpoints.crash("notion.crash_after_append", f"{job.input}#attempt{job.attempt}")
                    done += len(batch)
                    await job.report(min(99, 100 * done // len(blocks)), f"{done}/{len(blocks)} blocks in Notion")
                return
            except AmbiguousWrite:
                # The append may have landed: count again rather than append it twice.
                ambiguous += 1
                if ambiguous > self.settings.notion_retries:
                    raise
                done = None
                await asyncio.sleep(min(4.0, 0.5 * 2**ambiguous))
