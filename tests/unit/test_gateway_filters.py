"""Filters of the list, retry and statistics requests (pure functions)."""

from __future__ import annotations

import pytest
from distill.v1 import common_pb2, task_pb2
from distill_core.errors import InvalidInput
from distill_core.status import TASK_STATUS_NAME
from distill_gateway import statistics, validation
from google.protobuf.duration_pb2 import Duration


def test_status_filter_names_sorted_and_unique() -> None:
    got = validation.status_filter(
        "statuses",
        [task_pb2.TASK_STATUS_FAILED, task_pb2.TASK_STATUS_QUEUED, task_pb2.TASK_STATUS_FAILED],
        TASK_STATUS_NAME,
    )
    assert got == ["failed", "queued"]
    with pytest.raises(InvalidInput, match="statuses: unknown or unspecified status value 0"):
        validation.status_filter("statuses", [0], TASK_STATUS_NAME)


def test_stage_and_error_code_filters() -> None:
    assert validation.stage_filter("stage", 0) is None
    assert validation.stage_filter("stage", common_pb2.STAGE_NOTION) == "notion"
    with pytest.raises(InvalidInput, match="stage: unknown stage value 9"):
        validation.stage_filter("stage", 9)
    assert validation.error_code_filter("  TIMEOUT ") == "TIMEOUT"
    assert validation.error_code_filter("") is None
    with pytest.raises(InvalidInput, match="longer than 64"):
        validation.error_code_filter("X" * 65)


def test_id_list_names_the_bad_entry() -> None:
    assert validation.id_list("item_ids", []) == []
    with pytest.raises(InvalidInput, match=r"item_ids\[1\] 'nope' is not a valid id"):
        validation.id_list("item_ids", ["00000000-0000-4000-8000-000000000001", "nope"])
    assert validation.some_ids(list("abcde")) == "a, b, c and 2 more"


def test_statistics_window_and_rates() -> None:
    assert statistics.window_seconds(Duration(), False) == 24 * 3600
    assert statistics.window_seconds(Duration(seconds=600), True) == 600
    with pytest.raises(InvalidInput, match="negative"):
        statistics.window_seconds(Duration(seconds=-1), True)
    with pytest.raises(InvalidInput, match="366 days"):
        statistics.window_seconds(Duration(seconds=400 * 86400), True)
    assert statistics.rate(3, 1) == 0.75 and statistics.rate(0, 0) == 0.0


def test_stage_statistics_cover_every_stage_in_order() -> None:
    rows = [{"stage": "ai", "started": 5, "succeeded": 3, "failed": 1, "cancelled": 1, "mean_ms": 1500}]
    failures = [{"stage": "ai", "code": "TIMEOUT", "n": 1}, {"stage": "parse", "code": "HTTP_NOT_FOUND", "n": 2}]
    out = statistics.stage_statistics(rows, failures)
    assert [s.stage for s in out] == [common_pb2.STAGE_PARSE, common_pb2.STAGE_AI, common_pb2.STAGE_NOTION]
    ai = out[1]
    assert (ai.started, ai.succeeded, ai.failed, ai.cancelled) == (5, 3, 1, 1)
    assert ai.success_rate == 0.75 and ai.mean_duration_seconds == 1.5 and dict(ai.failures_by_code) == {"TIMEOUT": 1}
    assert dict(out[0].failures_by_code) == {"HTTP_NOT_FOUND": 2} and out[0].success_rate == 0.0
