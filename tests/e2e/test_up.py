"""`distill up` as an operator sees it: restarts, clean stop, resume on the same data dir."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from distill.v1 import task_pb2
from distill_client import AsyncClient

from tests.e2e.conftest import start_stack, stop_stack

pytestmark = pytest.mark.e2e


def children(pid: int) -> dict[str, int]:
    """service name -> pid of `distill up`'s python children."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and len(cmd) > 2 and cmd[1] == b"-m":
            out[cmd[2].decode().removeprefix("distill_")] = int(d.name)
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


async def test_restart_dead_child_and_resume_after_stop(tmp_path: Path, pages) -> None:  # type: ignore[no-untyped-def]
    stack = start_stack(tmp_path / "data")
    try:
        kids = children(stack.proc.pid)
        assert set(kids) == {"gateway", "parser", "ai", "notion", "notifier"}
        os.kill(kids["parser"], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and children(stack.proc.pid).get("parser") in (None, kids["parser"]):
            await asyncio.sleep(0.2)
        assert children(stack.proc.pid).get("parser") not in (None, kids["parser"]), "parser was not restarted"
        assert "parser | exited with code -9; restarting" in stack.log.read_text()
        async with AsyncClient(stack.gateway, stack.api_key) as client:
            task = await client.wait((await client.submit([pages.url("article.html")])).id)
        assert task.status == task_pb2.TASK_STATUS_SUCCEEDED
        all_pids = [stack.proc.pid, *children(stack.proc.pid).values()]
    finally:
        assert stop_stack(stack.proc) == 0
    await asyncio.sleep(0.5)
    assert not [p for p in all_pids if alive(p)], "processes left running after SIGTERM"

    again = start_stack(tmp_path / "data")
    try:
        async with AsyncClient(again.gateway, again.api_key) as client:
            same = await client.get_task(task.id, include_items=True)
        assert same.status == task_pb2.TASK_STATUS_SUCCEEDED
        assert same.items[0].export.url
    finally:
        stop_stack(again.proc)
