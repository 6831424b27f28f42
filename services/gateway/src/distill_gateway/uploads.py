"""UploadFiles: files streamed in, stored in the Object Store, a task whose items are the files.

The stream is `options` (optional, first), then per file a `file` header and its `chunk`s,
and `url`s anywhere between files. Every limit is checked as the bytes arrive, before they
are stored: files per upload, bytes per file (declared size and actual), bytes per upload,
request size, the call's duration. A refusal, a broken stream or a cancelled call discards
what was stored (upload_store.discard); nothing of a refused upload is left behind.

Once the stream ends, the task and its items are created in one transaction with the
uploads' rows attached, and the parse jobs dispatched, by the same code as CreateTask
(`PipelineServicer.submit`). Items of files have input_kind `file` and the input
`upload://<object id>/<file name>`.
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from distill.v1 import pipeline_pb2, task_pb2
from distill_core import subjects
from distill_core.errors import InvalidInput, ResourceExhausted, TimeoutFailure
from distill_core.logging import get_logger
from distill_core.settings import GatewaySettings
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from distill_gateway import upload_store, validation
from distill_gateway.limits import check_request_size
from distill_gateway.upload_store import ObjectWriter

log = get_logger(__name__)

MAX_NAME = 255
# Names the common types by extension, whatever the machine's mime.types says.
EXTENSIONS = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
    ".tif": "image/tiff", ".tiff": "image/tiff", ".pdf": "application/pdf", ".txt": "text/plain",
    ".md": "text/markdown", ".markdown": "text/markdown", ".html": "text/html", ".htm": "text/html",
}  # fmt: skip
# Names some senders use for the same types.
ALIASES = {
    "image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png", "image/tif": "image/tiff",
    "application/x-pdf": "application/pdf", "text/x-markdown": "text/markdown",
}  # fmt: skip
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def clean_file_name(raw: str) -> str:
    """The last part of a path, without control characters, at most 255 characters."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("", name).strip()
    if name in ("", ".", ".."):
        return ""
    if len(name) > MAX_NAME:
        _, dot, ext = name.rpartition(".")
        keep = MAX_NAME - len(ext) - 1 if dot and len(ext) <= 10 else MAX_NAME
        name = name[:keep] + (f".{ext}" if dot and len(ext) <= 10 else "")
    return name


def content_type_of(name: str, declared: str, allowed: list[str]) -> str:
    """The declared type (parameters dropped), else the one the name's extension suggests;
    one the deployment does not accept is INVALID_ARGUMENT naming the accepted ones."""
    kind = declared.split(";")[0].strip().lower()
    kind = ALIASES.get(kind, kind)
    if not kind or kind == "application/octet-stream":
        ext = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
        kind = EXTENSIONS.get(ext) or mimetypes.guess_type(name)[0] or ""
    if kind not in allowed:
        said = f"content type {kind!r}" if kind else "no content type (and its name says none)"
        raise InvalidInput(
            f"has {said}; accepted: {', '.join(allowed)} (DISTILL_UPLOAD_CONTENT_TYPES)", content_type=kind or None
        )
    return kind


@dataclass
class Received:
    """What an upload has brought so far: its items in order, and the bytes counted."""

    settings: GatewaySettings
    options: pipeline_pb2.UploadOptions | None = None
    entries: list[tuple[str, str]] = field(default_factory=list)  # (input kind, input)
    writers: list[ObjectWriter] = field(default_factory=list)
    current: ObjectWriter | None = None
    total: int = 0
    messages: int = 0

    @property
    def files(self) -> int:
        return len(self.writers)

    def check_count(self) -> None:
        if len(self.entries) + 1 > self.settings.upload_max_files:
            raise ResourceExhausted(
                f"more than {self.settings.upload_max_files} files and URLs in one upload "
                "(DISTILL_UPLOAD_MAX_FILES); nothing was stored",
                code="TOO_MANY_FILES",
            )

    def check_bytes(self, more: int, name: str, index: int, size_so_far: int) -> None:
        s = self.settings
        if size_so_far + more > s.upload_max_file_bytes:
            raise ResourceExhausted(
                f"files[{index}] {name!r} is larger than {s.upload_max_file_bytes} bytes, the limit per file "
                "(DISTILL_UPLOAD_MAX_FILE_BYTES); nothing was stored",
                code="FILE_TOO_LARGE",
            )
        if self.total + more > s.upload_max_task_bytes:
            raise ResourceExhausted(
                f"the upload is larger than {s.upload_max_task_bytes} bytes, the limit per upload "
                f"(DISTILL_UPLOAD_MAX_TASK_BYTES), at files[{index}] {name!r}; nothing was stored",
                code="UPLOAD_TOO_LARGE",
            )


Attach = Callable[[Any, Any], Awaitable[None]]
Submit = Callable[[str, dict[str, Any], Any, Attach], Awaitable[tuple[task_pb2.Task, bool]]]


class Uploads:
    """Receives one UploadFiles stream for the pipeline servicer."""

    def __init__(
        self,
        settings: GatewaySettings,
        engine: AsyncEngine,
        js: JetStreamContext,
        plan_options: Callable[[Any, str], dict[str, Any]],
        find_existing: Callable[[str, str], Awaitable[task_pb2.Task | None]],
        submit: Submit,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.js = js
        self.plan_options = plan_options
        self.find_existing = find_existing
        self.submit = submit

    async def receive(
        self, requests: AsyncIterator[pipeline_pb2.UploadFilesRequest], tenant: str, context: Any
    ) -> task_pb2.Task:
        got = Received(self.settings)
        stored: list[str] = []  # object ids registered: discarded unless the task takes them
        try:
            try:
                async with asyncio.timeout(self.settings.upload_timeout):
                    existing = await self._read(requests, tenant, got, stored)
            except TimeoutError:
                raise TimeoutFailure(
                    f"the upload took longer than {self.settings.upload_timeout:g} s (DISTILL_UPLOAD_TIMEOUT); "
                    "nothing was stored",
                    code="UPLOAD_TIMEOUT",
                ) from None
            if existing is not None:
                await upload_store.discard(self.engine, self.js, stored)
                return existing
            if not got.entries:
                raise InvalidInput("the upload has no files: send a file header and its chunks")
            task, created = await self._create(tenant, got, context)
        except BaseException:
            await asyncio.shield(upload_store.discard(self.engine, self.js, stored))
            raise
        if not created:  # the same idempotency key won in a concurrent call: its task stands
            await upload_store.discard(self.engine, self.js, stored)
        log.info("files uploaded", task_id=task.id, tenant_id=tenant, files=got.files, bytes=got.total)
        return task

    async def _read(
        self, requests: AsyncIterator[Any], tenant: str, got: Received, stored: list[str]
    ) -> task_pb2.Task | None:
        """Consume the stream into `got`; a task when the idempotency key is known already."""
        async for msg in requests:
            check_request_size(msg, self.settings.max_request_bytes)
            got.messages += 1
            part = msg.WhichOneof("part")
            if part == "chunk":
                await self._chunk(got, msg.chunk)
                continue
            await self._end_file(got)
            if part == "options":
                if got.messages != 1:
                    raise InvalidInput("options must be the first message of the upload")
                got.options = msg.options
                self.plan_options(msg.options, "parse")  # refuse bad options before any byte
                key = msg.options.idempotency_key.strip()
                if key and (existing := await self.find_existing(tenant, key)) is not None:
                    return existing
            elif part == "file":
                await self._start_file(got, msg.file, tenant, stored)
            elif part == "url":
                got.check_count()
                try:
                    url = validation.normalize_url(msg.url, max_length=self.settings.max_url_length)
                except InvalidInput as e:
                    raise InvalidInput(f"url {msg.url[:100]!r} {e.message}") from None
                got.entries.append(("url", url))
            else:
                raise InvalidInput(f"message {got.messages} of the upload is empty (set options, file, chunk or url)")
        await self._end_file(got)
        return None

    async def _start_file(
        self, got: Received, header: pipeline_pb2.UploadFileHeader, tenant: str, stored: list[str]
    ) -> None:
        got.check_count()
        index = got.files
        name = clean_file_name(header.name)
        if not name:
            raise InvalidInput(f"files[{index}] has no name (UploadFileHeader.name)")
        try:
            kind = content_type_of(name, header.content_type, self.settings.upload_content_types)
        except InvalidInput as e:
            raise InvalidInput(f"files[{index}] {name!r} {e.message}") from None
        if header.size_bytes < 0:
            raise InvalidInput(f"files[{index}] {name!r} has a negative size_bytes")
        got.check_bytes(header.size_bytes, name, index, 0)  # a declared size over a limit: refused now
        object_id = upload_store.new_object_id()
        await upload_store.register(self.engine, tenant, object_id, name, kind)
        stored.append(object_id)
        got.current = ObjectWriter(self.js, object_id, file_name=name, content_type=kind)

    async def _chunk(self, got: Received, data: bytes) -> None:
        w = got.current
        if w is None:
            raise InvalidInput(f"message {got.messages} of the upload is a chunk before any file header")
        got.check_bytes(len(data), w.file_name, got.files, w.size)
        got.total += len(data)
        await w.write(data)

    async def _end_file(self, got: Received) -> None:
        w = got.current
        if w is None:
            return
        if w.size == 0:
            raise InvalidInput(f"files[{got.files}] {w.file_name!r} is empty (no chunk came after its header)")
        await w.close()
        got.writers.append(w)
        got.entries.append(("file", subjects.upload_input(w.id, w.file_name)))
        got.current = None

    async def _create(self, tenant: str, got: Received, context: Any) -> tuple[task_pb2.Task, bool]:
        plan = {
            "input_kind": "file" if got.writers else "url",
            "inputs": [value for _, value in got.entries],
            "input_kinds": [kind for kind, _ in got.entries],
            **self.plan_options(got.options or pipeline_pb2.UploadOptions(), "parse"),
        }

        async def attach(conn: Any, task_id: Any) -> None:
            if got.writers:
                await upload_store.attach(conn, task_id, got.writers)

        return await self.submit(tenant, plan, context, attach)
