"""Friendly names for enums and durations in the client library, and its typed errors."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from distill.v1 import common_pb2, task_pb2
from distill_client import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated, names
from distill_client.errors import DistillError, from_rpc_error


def test_enum_names_both_ways() -> None:
    assert names.priority("HIGH") == common_pb2.PRIORITY_HIGH and names.priority(None) == 0
    assert names.stage("export") == names.stage("notion") == common_pb2.STAGE_NOTION
    assert names.task_status("partially-failed") == task_pb2.TASK_STATUS_PARTIALLY_FAILED
    assert names.item_status(task_pb2.ITEM_STATUS_FAILED) == task_pb2.ITEM_STATUS_FAILED
    with pytest.raises(ValueError, match="unknown priority 'urgent'; expected one of: high, normal, low"):
        names.priority("urgent")
    assert names.label(task_pb2.TaskStatus, task_pb2.TASK_STATUS_PARTIALLY_FAILED) == "partially_failed"
    assert names.label(common_pb2.Stage, common_pb2.STAGE_NOTION) == "export"
    assert names.label(task_pb2.TaskStatus, 99) == "99"


def test_durations() -> None:
    assert names.seconds("90s") == 90 and names.seconds("1h30m") == 5400 and names.seconds("7d") == 7 * 86400
    assert names.seconds("250ms") == 0.25 and names.seconds("42") == 42 and names.seconds(timedelta(hours=2)) == 7200
    for bad in ("", "soon", "5 parsecs", "1h-"):
        with pytest.raises(ValueError, match="not a duration"):
            names.seconds(bad)
    assert names.human_duration(3725) == "1h 2m" and names.human_duration(42.5) == "42s"
    assert names.human_duration(0.2) == "0.2s"


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def test_status_codes_become_typed_exceptions() -> None:
    for code, cls in (
        (grpc.StatusCode.NOT_FOUND, NotFound),
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgument),
        (grpc.StatusCode.UNAUTHENTICATED, Unauthenticated),
        (grpc.StatusCode.FAILED_PRECONDITION, FailedPrecondition),
    ):
        e = from_rpc_error(FakeRpcError(code, "what happened"))
        assert type(e) is cls and e.code == code and e.message == "what happened"
        assert str(e) == f"{code.name}: what happened"
    odd = from_rpc_error(FakeRpcError(grpc.StatusCode.DATA_LOSS, "x"))
    assert type(odd) is DistillError and odd.code == grpc.StatusCode.DATA_LOSS
