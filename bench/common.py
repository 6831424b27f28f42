"""What every benchmark module shares: a figure with its target, and where results go."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    op: str | None = None  # ">=" or "<=" when there is a target
    target: float | None = None
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.op is None or self.target is None:
            return None
        return self.value >= self.target if self.op == ">=" else self.value <= self.target

    def row(self) -> str:
        tgt = f"{self.op} {self.target:g}" if self.op else ""
        mark = {True: "met", False: "MISSED", None: ""}[self.ok]
        return f"{self.name:<48} {self.value:>12.3f} {self.unit:<8} {tgt:<10} {mark:<7} {self.note}"


def write_results(module: str, figures: list[Figure]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{module}.json"
    path.write_text(
        json.dumps(
            {
                "module": module,
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {"cpus": _cpus(), "python": platform.python_version(), "platform": platform.platform()},
                "figures": [dict(asdict(f), ok=f.ok) for f in figures],
            },
            indent=2,
        )
    )
    return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)
