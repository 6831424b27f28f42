"""Uploading files: `AsyncClient.upload` (and `Client.upload`), one UploadFiles stream per task.

    task = await client.upload(["scan.pdf", "recipe.jpg", "https://example.com/a"],
                               progress=lambda p: print(p.file, p.sent, "/", p.total))

Each input is a local path, an http(s) URL (fetched like `submit`'s), or `FileData` for
bytes in memory; the task's items keep their order. The bytes go in chunks; the server
checks its limits while they arrive and refuses an upload that breaks one with
ResourceExhausted naming the limit, keeping nothing of it.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from distill.v1 import common_pb2, pipeline_pb2, pipeline_pb2_grpc, task_pb2

from distill_client.errors import from_rpc_error

CHUNK = 256 * 1024
URL_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class FileData:
    """A file held in memory, to upload under `name`."""

    name: str
    data: bytes
    content_type: str = ""


@dataclass(frozen=True)
class UploadProgress:
    """Where an upload is: `sent` of `total` bytes, now in `file` (index `index` of the inputs)."""

    file: str
    index: int
    sent: int
    total: int
    file_sent: int
    file_size: int


Input = str | os.PathLike[str] | FileData


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(URL_SCHEMES)


def content_type_of(name: str) -> str:
    """A guess from the name ("" when there is none: the server guesses again, the parser reads the bytes)."""
    return mimetypes.guess_type(name)[0] or ""


@dataclass(frozen=True)
class _Part:
    """One input as it will be sent: a URL, or a file's name, type, size and where its bytes are."""

    source: Input
    url: str = ""
    name: str = ""
    content_type: str = ""
    size: int = 0


def describe(inputs: Iterable[Input]) -> list[_Part]:
    """The inputs checked and measured before anything is sent (FileNotFoundError names a bad path)."""
    parts = []
    for item in inputs:
        if is_url(item):
            parts.append(_Part(item, url=str(item).strip()))
        elif isinstance(item, FileData):
            ctype = item.content_type or content_type_of(item.name)
            parts.append(_Part(item, name=item.name, content_type=ctype, size=len(item.data)))
        else:
            path = Path(item)
            if not path.is_file():
                raise FileNotFoundError(f"{item}: no such file (or not a regular file)")
            if not os.access(path, os.R_OK):
                raise PermissionError(f"{item}: this user may not read it")
            parts.append(_Part(item, name=path.name, content_type=content_type_of(path.name), size=path.stat().st_size))
    return parts


def _messages(
    parts: list[_Part],
    options: pipeline_pb2.UploadOptions,
    chunk: int,
    progress: Callable[[UploadProgress], None] | None,
) -> Iterator[pipeline_pb2.UploadFilesRequest]:
    total = sum(p.size for p in parts)
    sent = 0
    yield pipeline_pb2.UploadFilesRequest(options=options)
    for index, part in enumerate(parts):
        if part.url:
            yield pipeline_pb2.UploadFilesRequest(url=part.url)
            continue
        header = pipeline_pb2.UploadFileHeader(name=part.name, content_type=part.content_type, size_bytes=part.size)
        yield pipeline_pb2.UploadFilesRequest(file=header)
        done = 0
        for data in _chunks(part.source, chunk):
            done += len(data)
            sent += len(data)
            yield pipeline_pb2.UploadFilesRequest(chunk=data)
            if progress is not None:
                progress(UploadProgress(part.name, index, sent, total, done, part.size))


def _chunks(item: Input, chunk: int) -> Iterable[bytes]:
    if isinstance(item, FileData):
        for i in range(0, len(item.data), chunk):
            yield item.data[i : i + chunk]
        return
    with open(item, "rb") as f:
        while data := f.read(chunk):
            yield data


class UploadsMixin:
    """AsyncClient's upload method (it provides `target`, `channel_setup` and `metadata`).

    The stream goes over a blocking gRPC channel in a worker thread: when the server refuses
    an upload while chunks are still on their way (a limit), grpc.aio reports INTERNAL
    ("Internal error from Core") instead of the server's status about one time in three
    (grpc/grpc#36066); the blocking API reports the server's status every time.
    """

    target: str
    channel_setup: tuple[grpc.ChannelCredentials | None, list[tuple[str, Any]]]
    metadata: list[tuple[str, str]]

    async def upload(
        self,
        inputs: Iterable[Input],
        *,
        stages: Iterable[str | int] = (),
        priority: str | int | None = None,
        labels: Mapping[str, str] | None = None,
        idempotency_key: str = "",
        ai: common_pb2.AiOptions | Mapping[str, Any] | None = None,
        export: common_pb2.ExportOptions | Mapping[str, Any] | None = None,
        progress: Callable[[UploadProgress], None] | None = None,
        chunk_size: int = CHUNK,
        timeout: float | None = None,
    ) -> task_pb2.Task:
        """Upload files (paths or FileData) and URLs as one task; answers once every byte is stored.

        A path that cannot be read raises FileNotFoundError or PermissionError before anything
        is sent. progress(p) is called after each chunk (from the thread that sends them).
        timeout: seconds for the whole upload (default: none; the server has its own,
        DISTILL_UPLOAD_TIMEOUT).
        """
        from distill_client.client import task_options

        parts = describe(inputs)
        options = pipeline_pb2.UploadOptions(**task_options(stages, priority, labels, idempotency_key, ai, export))
        credentials, opts = self.channel_setup
        channel = grpc.secure_channel(self.target, credentials, opts) if credentials else None
        channel = channel or grpc.insecure_channel(self.target, opts)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[task_pb2.Task] = loop.create_future()

        def settle(call: Any) -> None:
            if answer.done():
                return
            if call.cancelled():
                answer.cancel()
            elif call.exception() is not None:
                answer.set_exception(call.exception())
            else:
                answer.set_result(call.result())

        try:
            stub = pipeline_pb2_grpc.PipelineStub(channel)
            call = stub.UploadFiles.future(
                _messages(parts, options, chunk_size, progress), metadata=self.metadata, timeout=timeout
            )
            call.add_done_callback(lambda c: loop.call_soon_threadsafe(settle, c))
            try:
                return await answer
            except asyncio.CancelledError:
                call.cancel()
                raise
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        finally:
            channel.close()
