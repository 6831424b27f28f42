"""POST /v1/uploads: a multipart/form-data body turned into the UploadFiles stream while it arrives.

The form, in order (the order of the stream: options first, then the items):

    options          JSON UploadOptions (stages, ai, export, priority, idempotency_key, labels)
    priority         high | normal | low (or PRIORITY_HIGH, ...)
    stages           parse, ai, notion (repeated or comma separated)
    label            key=value (repeated)
    idempotency_key  same key, same task back
    file             a file (repeated): its file name and Content-Type as the browser sends them
    url              an http(s) URL, an item between the files (repeated)

Task options must come before the first `file` or `url` (browsers send a form's fields in
document order, FormData in the order they were appended). Each file's bytes go on to the
servicer as `chunk` messages as they arrive, where every upload limit is checked before a
byte is stored (uploads.py). Everything that is not file data (fields, part headers, the
preamble) counts against DISTILL_MAX_REQUEST_BYTES, so no part of the body is unbounded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from distill.v1 import common_pb2
from distill.v1 import pipeline_pb2 as ppb
from distill_core.errors import Cancelled, InvalidInput, ResourceExhausted
from starlette.requests import ClientDisconnect

from distill_gateway.web import multipart
from distill_gateway.web.jsonmap import enum_list, enum_value, labels, parse_body

OPTION_FIELDS = ("options", "priority", "stages", "label", "idempotency_key")
FIELDS = (*OPTION_FIELDS, "file", "url")
CHUNK_BYTES = 256 * 1024  # the most file bytes in one chunk message
PRIORITY = common_pb2.Priority.DESCRIPTOR
STAGE = common_pb2.Stage.DESCRIPTOR


class FormToUploadStream:
    """Parser events -> UploadFilesRequest messages (pure: no I/O)."""

    def __init__(self, boundary: bytes, *, fields_limit: int) -> None:
        self.parser = multipart.MultipartParser(boundary)
        self.fields_limit = fields_limit
        self.options = ppb.UploadOptions()
        self.started = False  # the options message went out: only items from now on
        self.items = 0
        self.part: multipart.Part | None = None
        self.header: ppb.UploadFileHeader | None = None  # a file whose header is not sent yet
        self.value = bytearray()
        self.field_bytes = 0

    def feed(self, data: bytes) -> list[ppb.UploadFilesRequest]:
        out: list[ppb.UploadFilesRequest] = []
        for ev in self.parser.feed(data):
            self._event(ev, out)
        if self.parser.overhead + self.field_bytes > self.fields_limit:
            raise ResourceExhausted(
                f"the form's fields and part headers are larger than {self.fields_limit} bytes "
                "(DISTILL_MAX_REQUEST_BYTES); nothing was stored",
                code="REQUEST_TOO_LARGE",
            )
        return out

    @property
    def done(self) -> bool:
        return self.parser.done

    def close(self) -> None:
        """The body has ended: INVALID_ARGUMENT when it was cut off or brought no file."""
        self.parser.close()
        if not self.items:
            raise InvalidInput("the form has no files: send each file in a form field named 'file'")

    def _start(self, out: list[ppb.UploadFilesRequest]) -> None:
        if not self.started:
            self.started = True
            out.append(ppb.UploadFilesRequest(options=self.options))

    def _event(self, ev: multipart.Event, out: list[ppb.UploadFilesRequest]) -> None:
        if isinstance(ev, multipart.Start):
            self._begin_part(ev.part)
        elif isinstance(ev, multipart.Data):
            if self.part is not None and self.part.filename is not None:
                self._file_data(ev.data, out)
            else:
                self.field_bytes += len(ev.data)
                if self.field_bytes <= self.fields_limit:  # else feed() refuses the form
                    self.value += ev.data
        elif isinstance(ev, multipart.End):
            self._end_part(out)

    def _begin_part(self, part: multipart.Part) -> None:
        if part.filename is not None and part.name != "file":
            raise InvalidInput(f"form field {part.name[:60]!r} holds a file; files go in fields named 'file'")
        if part.name not in FIELDS:
            raise InvalidInput(f"unknown form field {part.name[:60]!r} (expected: {', '.join(FIELDS)})")
        if part.filename is None and part.name == "file":
            raise InvalidInput("form field 'file' is not a file (its part has no filename)")
        self.part = part
        self.value = bytearray()
        if part.filename is not None:
            self.header = ppb.UploadFileHeader(name=part.filename, content_type=part.content_type)

    def _announce(self, out: list[ppb.UploadFilesRequest]) -> None:
        if self.header is not None:
            self._start(out)
            out.append(ppb.UploadFilesRequest(file=self.header))
            self.header = None
            self.items += 1

    def _file_data(self, data: bytes, out: list[ppb.UploadFilesRequest]) -> None:
        self._announce(out)
        for i in range(0, len(data), CHUNK_BYTES):
            out.append(ppb.UploadFilesRequest(chunk=data[i : i + CHUNK_BYTES]))

    def _end_part(self, out: list[ppb.UploadFilesRequest]) -> None:
        part, self.part = self.part, None
        if part is None:
            return
        if part.filename is not None:
            if self.header is not None and not self.header.name:
                self.header = None  # a file input with no file chosen: browsers send an empty part
                return
            self._announce(out)  # an empty file: the servicer says so
            return
        try:
            value = bytes(self.value).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"form field {part.name!r} is not UTF-8 text") from None
        if part.name == "url":
            self._start(out)
            out.append(ppb.UploadFilesRequest(url=value.strip()))
            self.items += 1
            return
        if self.started:
            raise InvalidInput(
                f"form field {part.name!r} comes after the first file or URL: the task's options "
                f"({', '.join(OPTION_FIELDS)}) must come before them"
            )
        self._option(part.name, value)

    def _option(self, name: str, value: str) -> None:
        o = self.options
        if name == "options":
            try:
                o.MergeFrom(parse_body(value.encode(), ppb.UploadOptions))
            except InvalidInput as e:
                raise InvalidInput(f"form field 'options' {e.message.removeprefix('the request body ')}") from None
        elif name == "priority":
            o.priority = enum_value(PRIORITY, "priority", value)  # type: ignore[assignment]
        elif name == "stages":
            o.stages.extend(enum_list(STAGE, "stages", [value]))  # type: ignore[arg-type]
        elif name == "label":
            o.labels.update(labels("label", [value]))
        elif name == "idempotency_key":
            o.idempotency_key = value.strip()


async def upload_requests(
    chunks: AsyncIterator[bytes],
    boundary: bytes,
    *,
    fields_limit: int,
    declared_length: int | None = None,
    body_limit: int | None = None,
) -> AsyncIterator[ppb.UploadFilesRequest]:
    """The UploadFiles stream of a form body; `body_limit`: a declared Content-Length over it is
    refused before any byte is read."""
    if declared_length is not None and body_limit is not None and declared_length > body_limit:
        raise ResourceExhausted(
            f"the request body is {declared_length} bytes; an upload may bring at most {body_limit} "
            "(DISTILL_UPLOAD_MAX_TASK_BYTES of files plus DISTILL_MAX_REQUEST_BYTES of form fields); "
            "nothing was stored",
            code="UPLOAD_TOO_LARGE",
        )
    form = FormToUploadStream(boundary, fields_limit=fields_limit)
    try:
        async for data in chunks:
            for message in form.feed(data):
                yield message
            if form.done:
                break  # the epilogue, if any, is not read
    except ClientDisconnect:
        raise Cancelled("the client went away during the upload; nothing was stored") from None
    form.close()
