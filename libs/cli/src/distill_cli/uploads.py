"""`distill submit` with local files: which arguments are files, and the upload with a progress bar."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from distill.v1 import task_pb2
from distill_client import AsyncClient, UploadProgress
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from distill_cli.common import err, usage_error


def is_url(arg: str) -> bool:
    """Anything with a scheme is sent as a URL (the gateway says what is wrong with one it refuses)."""
    return "://" in arg


def local_files(args: list[str]) -> list[str]:
    """The arguments that are local files; an argument that is neither a URL nor a readable file
    is a usage error naming it."""
    files = []
    for arg in args:
        if is_url(arg):
            continue
        path = Path(arg).expanduser()
        if path.is_dir():
            raise usage_error(f"{arg} is a directory: give the files in it (e.g. {arg.rstrip('/')}/*.pdf)")
        if not path.is_file():
            raise usage_error(f"{arg!r} is neither a URL (http:// or https://) nor a file that exists")
        if not os.access(path, os.R_OK):
            raise usage_error(f"{arg} is a file this user cannot read")
        files.append(arg)
    return files


def expanded(inputs: list[str]) -> list[str]:
    return [i if is_url(i) else str(Path(i).expanduser()) for i in inputs]


async def upload(client: AsyncClient, inputs: list[str], *, quiet: bool, **options: Any) -> task_pb2.Task:
    """Upload the files (and URLs, in order) as one task, with a progress bar on stderr unless quiet."""
    paths = expanded(inputs)
    if quiet:
        return await client.upload(paths, **options)
    columns = (TextColumn("uploading {task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        total = bar.add_task("", total=None)

        def show(p: UploadProgress) -> None:
            bar.update(total, completed=p.sent, total=p.total, description=f"{p.file} ({p.index + 1}/{len(inputs)})")

        task = await client.upload(paths, progress=show, **options)
        bar.update(total, description=f"{len(inputs)} input(s)")
    return task
