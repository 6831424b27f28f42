"""Uploaded files: read from the JetStream Object Store, so any parser replica can read any
file (no shared disk). The gateway stored them (distill_gateway/upload_store.py).

Reading needs one permission, the stream's message get (nats_auth.py): the description by
its subject, then the chunks one after the other by subject and sequence. Nothing is
written, no consumer is made. The digest is checked before the bytes are used.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from distill_core import subjects
from distill_core.errors import PermanentError
from nats.js import JetStreamContext
from nats.js import api as jsapi
from nats.js.errors import NotFoundError

from distill_parser.fetch import Fetched


@dataclass
class UploadedFile:
    object_id: str
    file_name: str
    content_type: str
    body: bytes


def _missing(name: str) -> PermanentError:
    return PermanentError(
        f"the uploaded file {name!r} is no longer stored (its task's files were deleted)", code="UPLOAD_MISSING"
    )


async def read_upload(js: JetStreamContext, item_input: str, max_bytes: int) -> UploadedFile:
    """The file an item's input (upload://<object id>/<name>) names, checked against its digest."""
    parts = subjects.upload_parts(item_input)
    if parts is None:
        raise PermanentError(f"{item_input[:100]!r} is not an uploaded file's input", code="INVALID_ARGUMENT")
    object_id, name = parts
    try:
        meta = await js.get_msg(subjects.UPLOADS_STREAM, subject=subjects.upload_meta_subject(object_id))
    except NotFoundError:
        raise _missing(name) from None
    info = jsapi.ObjectInfo.from_response(json.loads(meta.data or b"{}"))
    if info.deleted or not info.nuid:
        raise _missing(name)
    size = int(info.size or 0)
    if size > max_bytes:
        raise PermanentError(
            f"the uploaded file {name!r} is {size} bytes; the parser reads at most {max_bytes} "
            "(DISTILL_PARSER_MAX_FILE_BYTES)",
            code="FILE_TOO_LARGE",
        )
    body = bytearray()
    seq = 1
    chunk_subject = subjects.upload_chunks_subject(info.nuid)
    for _ in range(int(info.chunks or 0)):
        try:
            msg = await js.get_msg(subjects.UPLOADS_STREAM, seq=seq, subject=chunk_subject, next=True)
        except NotFoundError:
            raise _missing(name) from None
        body += msg.data or b""
        seq = int(msg.seq or seq) + 1
    digest = "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()
    if len(body) != size or (info.digest and digest.rstrip("=") != info.digest.rstrip("=")):
        raise PermanentError(
            f"the uploaded file {name!r} is damaged in the store ({len(body)} of {size} bytes, digest mismatch)",
            code="UNREADABLE_FILE",
        )
    content_type = ((info.headers or {}).get("Content-Type") or [""])[0]
    return UploadedFile(object_id, info.description or name, content_type, bytes(body))


def as_fetched(item_input: str, f: UploadedFile) -> Fetched:
    """The file as the rest of the parse stage sees a fetched page (its input is its URL)."""
    return Fetched(
        url=item_input,
        final_url=item_input,
        status=200,
        content_type=f.content_type,
        charset=None,
        body=f.body,
        headers={"content-type": f.content_type},
    )
