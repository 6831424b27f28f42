"""`make bench`: every benchmark, a table of figures with their targets, JSON and a chart.

    python -m bench                 # the full runs (tens of minutes on 2 cores)
    python -m bench --smoke         # tiny bounded versions (CI: the benchmarks never rot)
    python -m bench orchestration latency   # only these modules

Exits non-zero only when a benchmark could not run; a missed target is reported, not
hidden, and is not an error. Results: bench/results/<module>.json, summary.json and
summary.png.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import traceback
from typing import Any

from bench.common import RESULTS, ROOT, Figure

MODULES = [
    "orchestration",
    "pipeline_real",
    "latency",
    "watch_latency",
    "memory",
    "ai_local",
    "parser_quality",
    "parser_throughput",
    "jetstream_sync",
]


def figures_of(module: str, returned: Any) -> list[Figure]:
    """Figures from what a module returned, or from the JSON it wrote."""
    if isinstance(returned, list) and all(isinstance(f, Figure) for f in returned):
        return returned
    path = RESULTS / f"{module}.json"
    data = json.loads(path.read_text()) if path.exists() else (returned if isinstance(returned, dict) else {})
    out = []
    for f in data.get("figures", []):
        out.append(
            Figure(f["name"], float(f["value"]), f.get("unit", ""), f.get("op"), f.get("target"), f.get("note", ""))
        )
    if not out:
        for k, v in data.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                out.append(Figure(f"{module}.{k}", float(v), "", None, None, ""))
    return out


RATIO_CAP = 3.0


def target_ratio(f: Figure) -> float:
    """value / target for a floor, target / value for a ceiling (a value at or below zero
    beats any positive ceiling), capped so that one large ratio does not flatten the rest."""
    assert f.target is not None
    if f.op == ">=":
        r = f.value / f.target if f.target else RATIO_CAP
    else:
        r = f.target / f.value if f.value > 0 else RATIO_CAP
    return max(0.0, min(RATIO_CAP, r))


def chart(figs: list[Figure]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targeted = [f for f in figs if f.ok is not None and f.target]
    thr = {
        f.name.split(".")[-1].removesuffix("_items_per_s"): f.value
        for f in figs
        if f.name.startswith("orchestration.") and f.name.endswith("_items_per_s")
    }
    fig, axes = plt.subplots(1, 2, figsize=(15, max(4, 0.35 * len(targeted) + 1)))
    if thr:
        ax = axes[0]
        names = list(thr)
        ax.barh(names, [thr[n] for n in names], color=["#2b6cb0" if n == "distill" else "#a0aec0" for n in names])
        ax.set_xlabel("items/s through 3 stages (same machine, same run)")
        ax.set_title("Orchestration throughput")
        for i, n in enumerate(names):
            ax.text(thr[n], i, f" {thr[n]:.0f}", va="center")
    ax = axes[1]
    ratios = [target_ratio(f) for f in targeted]
    ax.barh([f.name for f in targeted], ratios, color=["#38a169" if f.ok else "#e53e3e" for f in targeted])
    for i, f in enumerate(targeted):
        ax.text(ratios[i], i, f" {f.value:.4g} {f.unit} ({f.op} {f.target:g})", va="center", fontsize=6)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xlim(0, RATIO_CAP * 1.35)
    ax.set_xlabel(f"how far the target is beaten (>= 1 is met; shown up to {RATIO_CAP:g})")
    ax.set_title("Targets")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "summary.png", dpi=110)


def run_module(name: str, smoke: bool) -> int:
    """One benchmark in a process of its own, which writes RESULTS/<name>.json: what one
    leaves behind (grpc.aio's poller bound to its closed event loop, its memory) does not
    reach the next."""
    code = f"import bench.{name} as m; m.main(smoke={smoke!r})"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    smoke = "--smoke" in argv
    wanted = [a for a in argv if not a.startswith("-")] or MODULES
    RESULTS.mkdir(parents=True, exist_ok=True)
    figs: list[Figure] = []
    failed: list[str] = []
    timings: dict[str, float] = {}
    for name in wanted:
        t0 = time.monotonic()
        print(f"== bench.{name}{' (smoke)' if smoke else ''}", flush=True)
        if run_module(name, smoke) == 0:
            figs += figures_of(name, None)
        else:
            print(f"bench.{name} could not run (its traceback is above)", flush=True)
            failed.append(name)
        timings[name] = round(time.monotonic() - t0, 1)
    print()
    print(f"{'figure':<48} {'value':>12} {'unit':<8} {'target':<10} {'':<7} note")
    for f in figs:
        print(f.row())
    missed = [f.name for f in figs if f.ok is False]
    summary = {
        "smoke": smoke,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "figures": [dict(f.__dict__, ok=f.ok) for f in figs],
        "missed": missed,
        "could_not_run": failed,
        "seconds": timings,
    }
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2))
    try:
        chart(figs)
    except Exception:
        traceback.print_exc()
        failed.append("chart")
    print(f"\n{len(figs)} figures, {len(missed)} targets missed{': ' + ', '.join(missed) if missed else ''}")
    if failed:
        print(f"could not run: {', '.join(failed)}")
    print(f"results in {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
