"""Uploaded files in the JetStream Object Store, and the `uploads` rows that keep them accounted for.

The order that leaves no object behind, whatever crashes when:
1. `register` writes the upload's row (no task yet) before the first byte is stored;
2. `ObjectWriter` publishes the chunks as they arrive, then the description (the object
   exists from then on); `discard` purges both when the upload is refused;
3. the transaction that creates the task sets the row's task (`attach`);
4. when the task goes (retention), `delete_for_tasks` purges the objects first, then the
   rows; a row whose task went by another path, or whose upload never finished within
   upload_timeout, is collected by `collect` (object first, then row) in a janitor round.

Objects are written in the standard layout (nats-py's ObjectStore reads them; so does
`nats object get distill_uploads <id>`): 128 KiB chunks, the SHA-256 digest in the
description, the original name and content type in it too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from distill_core import subjects
from distill_core.errors import ResourceExhausted
from distill_core.logging import get_logger
from nats.js import JetStreamContext
from nats.js import api as jsapi
from nats.js.errors import APIError, BadRequestError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = get_logger(__name__)

CHUNK = 128 * 1024  # the Object Store's usual chunk size
ROLLUP = {jsapi.Header.ROLLUP: "sub"}  # the description replaces any earlier one


def new_object_id() -> str:
    return uuid.uuid4().hex


def _store_full(e: Exception) -> bool:
    return isinstance(e, APIError) and (e.err_code in (10047, 10077) or "maximum bytes" in str(e).lower())


class ObjectWriter:
    """One object, written while its bytes arrive: at most one chunk is held in memory."""

    def __init__(self, js: JetStreamContext, object_id: str, *, file_name: str, content_type: str) -> None:
        self.js = js
        self.id = object_id
        self.file_name = file_name
        self.content_type = content_type
        self.size = 0
        self.chunks = 0
        self._sha = hashlib.sha256()
        self._buf = bytearray()

    async def write(self, data: bytes) -> None:
        self._buf += data
        self.size += len(data)
        self._sha.update(data)
        while len(self._buf) >= CHUNK:
            await self._publish(bytes(self._buf[:CHUNK]))
            del self._buf[:CHUNK]

    async def _publish(self, data: bytes) -> None:
        try:
            await self.js.publish(subjects.upload_chunks_subject(self.id), data)
        except APIError as e:
            if _store_full(e):
                raise ResourceExhausted(
                    "the upload store is full (DISTILL_UPLOAD_STORE_MAX_BYTES); try again later",
                    code="UPLOAD_STORE_FULL",
                ) from None
            raise
        self.chunks += 1

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    async def close(self) -> None:
        """Store what is left and the description: from now on the object can be read."""
        if self._buf:
            await self._publish(bytes(self._buf))
            self._buf.clear()
        info = jsapi.ObjectInfo(
            name=self.id,
            bucket=subjects.UPLOADS_BUCKET,
            nuid=self.id,
            size=self.size,
            chunks=self.chunks,
            mtime=datetime.now(UTC).isoformat(),
            digest="SHA-256=" + base64.urlsafe_b64encode(self._sha.digest()).decode(),
            description=self.file_name,
            headers={"Content-Type": [self.content_type]},
            options=jsapi.ObjectMetaOptions(max_chunk_size=CHUNK),
        )
        await self.js.publish(
            subjects.upload_meta_subject(self.id), json.dumps(info.as_dict()).encode(), headers=ROLLUP
        )


async def purge(js: JetStreamContext, object_ids: Sequence[str]) -> None:
    """Remove objects, chunks and description (nothing of them is left; absent ones are fine)."""
    for object_id in object_ids:
        for subject in (subjects.upload_chunks_subject(object_id), subjects.upload_meta_subject(object_id)):
            try:
                await js.purge_stream(subjects.UPLOADS_STREAM, subject=subject)
            except BadRequestError:
                pass  # nothing on that subject


# --- the rows ------------------------------------------------------------------------------


async def register(engine: AsyncEngine, tenant_id: str, object_id: str, file_name: str, content_type: str) -> None:
    """The row first (committed before any byte is stored), so no object can be unaccounted for."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO uploads (id, tenant_id, file_name, content_type, size_bytes) "
                "VALUES (:id, :tenant, :name, :type, 0)"
            ),
            {"id": object_id, "tenant": tenant_id, "name": file_name, "type": content_type},
        )


async def attach(conn: AsyncConnection, task_id: uuid.UUID, writers: Sequence[ObjectWriter]) -> None:
    """In the transaction that creates the task: these uploads are the task's from now on."""
    await conn.execute(
        text(
            "UPDATE uploads u SET task_id = :task, attached_at = now(), size_bytes = w.size, sha256 = w.sha "
            "FROM unnest(CAST(:ids AS text[]), CAST(:sizes AS bigint[]), CAST(:shas AS text[])) AS w(id, size, sha) "
            "WHERE u.id = w.id"
        ),
        {
            "task": task_id,
            "ids": [w.id for w in writers],
            "sizes": [w.size for w in writers],
            "shas": [w.sha256 for w in writers],
        },
    )


async def discard(engine: AsyncEngine, js: JetStreamContext, object_ids: Sequence[str]) -> None:
    """Undo a refused or broken upload: the objects no task took, then their rows. A failure
    here leaves the rows, and the janitor finishes the job once upload_timeout has passed."""
    if not object_ids:
        return
    try:
        async with engine.connect() as conn:
            unowned = [
                r[0]
                for r in await conn.execute(
                    text("SELECT id FROM uploads WHERE id = ANY(:ids) AND task_id IS NULL"), {"ids": list(object_ids)}
                )
            ]
        await purge(js, unowned)
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM uploads WHERE id = ANY(:ids) AND task_id IS NULL"), {"ids": unowned})
    except Exception as e:
        log.warning("could not discard an upload; the janitor will", objects=len(object_ids), error=str(e)[:200])


async def delete_for_tasks(conn: AsyncConnection, js: JetStreamContext, task_ids: Sequence[Any]) -> int:
    """Before the tasks' rows are deleted (same transaction): their objects, then their upload rows."""
    ids = [
        r[0]
        for r in await conn.execute(
            text("SELECT id FROM uploads WHERE task_id = ANY(CAST(:t AS uuid[]))"), {"t": list(task_ids)}
        )
    ]
    if ids:
        await purge(js, ids)
        await conn.execute(text("DELETE FROM uploads WHERE id = ANY(:ids)"), {"ids": ids})
    return len(ids)


async def collect(conn: AsyncConnection, js: JetStreamContext, stale_after: float, limit: int = 500) -> int:
    """Uploads no task owns: their task went (attached once), or they never finished streaming."""
    ids = [
        r[0]
        for r in await conn.execute(
            text(
                "SELECT id FROM uploads WHERE task_id IS NULL AND "
                "(attached_at IS NOT NULL OR created_at < now() - make_interval(secs => :stale)) LIMIT :limit"
            ),
            {"stale": stale_after, "limit": limit},
        )
    ]
    if ids:
        await purge(js, ids)
        await conn.execute(text("DELETE FROM uploads WHERE id = ANY(:ids)"), {"ids": ids})
    return len(ids)
