"""CPU seconds spent by groups of processes (a service, PostgreSQL with its backends, NATS).

On a shared machine wall-clock figures are noisy; CPU time per item says where the work
goes and does not change when another job loads the machine.

    meter = CpuMeter({"parser": [pid], "postgres": [postmaster_pid]})
    before = meter.sample()
    ...
    per_item = {k: v / n for k, v in meter.since(before).items()}
"""

from __future__ import annotations

import os

import psutil

from bench.common import Figure


class CpuMeter:
    """User + system CPU of each group's processes and all their children (PostgreSQL
    backends, for instance). A child that exits between two samples is not counted:
    sample over a steady run, not across start-up."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self._own = os.getpid()

    def sample(self) -> dict[str, float]:
        out = {}
        for name, pids in self.groups.items():
            total = 0.0
            for pid in pids:
                total += _tree_cpu(pid, include_children=pid != self._own)
            out[name] = total
        return out

    def since(self, before: dict[str, float]) -> dict[str, float]:
        now = self.sample()
        return {k: now[k] - before.get(k, 0.0) for k in now}


def _tree_cpu(pid: int, include_children: bool) -> float:
    try:
        root = psutil.Process(pid)
        procs = [root] + (root.children(recursive=True) if include_children else [])
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def cpu_figures(prefix: str, spent: dict[str, float], items: int, wall: float) -> list[Figure]:
    """Figures: CPU milliseconds per item of each group, and the cores the run kept busy."""
    figs = [
        Figure(f"{prefix}.cpu_ms_per_item.{name}", 1000 * sec / max(1, items), "ms", None, None, "CPU per item")
        for name, sec in spent.items()
    ]
    total = sum(spent.values())
    figs.append(Figure(f"{prefix}.cpu_ms_per_item.total", 1000 * total / max(1, items), "ms", None, None, "all"))
    figs.append(Figure(f"{prefix}.cores_busy", total / wall if wall > 0 else 0.0, "cores", None, None, "CPU / wall"))
    return figs
