"""A whole `distill up` stack as child processes, shared by the e2e tests."""

from __future__ import annotations

import http.server
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = "e2e-test-key-0123456789abcdef"


@dataclass
class Stack:
    gateway: str
    api_key: str
    data_dir: Path
    log: Path
    proc: subprocess.Popen


def start_stack(
    data_dir: Path, extra_env: dict[str, str] | None = None, timeout: float = 120, allow_private_networks: bool = True
) -> Stack:
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "up.log"
    env = dict(
        os.environ, DISTILL_DEV_API_KEY=KEY, PYTHONUNBUFFERED="1", DISTILL_LOG_FORMAT="json", **(extra_env or {})
    )
    for var in ("DISTILL_NATS_URL", "DISTILL_DATABASE_URL"):
        if var not in (extra_env or {}):
            env.pop(var, None)  # embedded servers unless the caller brings its own
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "distill"),
            "up",
            "--data-dir",
            str(data_dir),
            "--grpc-port",
            "0",
            *(["--allow-private-networks"] if allow_private_networks else []),
        ],
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"distill up exited {proc.returncode}:\n{log.read_text()[-4000:]}")
        m = re.search(r"^distill: ready gateway=(\S+)$", log.read_text(errors="replace"), re.M)
        if m:
            return Stack(m.group(1), KEY, data_dir, log, proc)
        time.sleep(0.2)
    stop_stack(proc)
    raise RuntimeError(f"distill up not ready within {timeout} s:\n{log.read_text()[-4000:]}")


def stop_stack(proc: subprocess.Popen, timeout: float = 60) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


@pytest.fixture(scope="session")
def stack(tmp_root: Path) -> Iterator[Stack]:
    s = start_stack(tmp_root / "stack")
    yield s
    stop_stack(s.proc)


class PageServer:
    """Serves a folder on loopback; tests drop files into it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        handler = lambda *a, **k: _Quiet(*a, directory=str(folder), **k)  # noqa: E731
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.srv.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a: object) -> None:
        pass


@pytest.fixture(scope="session")
def pages(tmp_root: Path) -> Iterator[PageServer]:
    import shutil

    s = PageServer(tmp_root / "pages")
    for f in (ROOT / "samples" / "pages").iterdir():
        shutil.copy(f, s.folder / f.name)
    yield s
    s.srv.shutdown()
