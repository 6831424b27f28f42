"""Fault injection for the chaos suite (off unless DISTILL_FAILPOINTS is set).

DISTILL_FAILPOINTS is a comma-separated list of `name` or `name=match`:

    runner.crash_on_input=poison     the stage process exits (as if killed) when the
                                     item's input contains "poison"
    runner.crash_after_commit=x      the stage process exits after committing a batch that
                                     holds an item whose input contains "x", before
                                     publishing the hand-off and acking
    gateway.crash_before_publish     the gateway exits after committing a new task and
                                     before publishing its jobs

Like etcd's or TiKV's failpoints: a named place in the product where a test can make a
real process fail in a real way, with nothing patched from outside. Never set it in
production.
"""

from __future__ import annotations

import os
import sys
from functools import cache

EXIT_CODE = 137  # what a SIGKILL'd process reports


@cache
def _points() -> dict[str, str]:
    raw = os.environ.get("DISTILL_FAILPOINTS", "")
    out = {}
    for part in raw.split(","):
        name, _, match = part.strip().partition("=")
        if name:
            out[name] = match
    return out


def active(name: str, subject: str = "") -> bool:
    points = _points()
    if name not in points:
        return False
    match = points[name]
    return not match or match in subject


def crash(name: str, subject: str = "") -> None:
    """Exit the process at once (no clean-up, like SIGKILL) when failpoint `name` matches."""
    if active(name, subject):
        sys.stderr.write(f"failpoint {name} hit ({subject[:80]}): exiting\n")
        sys.stderr.flush()
        os._exit(EXIT_CODE)
