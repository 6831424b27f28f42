from __future__ import annotations

import pytest
from distill_core.status import Counts, rollup


@pytest.mark.parametrize(
    ("counts", "status"),
    [
        (Counts(total=3, pending=3), "queued"),
        (Counts(total=3, pending=2, running=1), "running"),
        (Counts(total=3, pending=2, succeeded=1), "running"),
        (Counts(total=3, succeeded=3), "succeeded"),
        (Counts(total=3, succeeded=2, failed=1), "partially_failed"),
        (Counts(total=3, succeeded=2, cancelled=1), "partially_failed"),
        (Counts(total=3, failed=3), "failed"),
        (Counts(total=3, failed=1, cancelled=2), "failed"),
        (Counts(total=3, cancelled=3), "cancelled"),
    ],
)
def test_rollup(counts: Counts, status: str) -> None:
    assert rollup(counts) == status


def test_progress_only_reaches_100_when_all_done() -> None:
    assert Counts(total=3, succeeded=2, pending=1).progress == 66
    assert Counts(total=3, succeeded=2, failed=1).progress == 100
    assert Counts(total=1000, succeeded=999, running=1).progress == 99


def test_cancel_requested_wins() -> None:
    assert rollup(Counts(total=3, succeeded=1, cancelled=2), cancel_requested=True) == "cancelled"
