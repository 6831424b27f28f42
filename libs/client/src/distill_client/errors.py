"""Typed exceptions for failed calls: one class per gRPC status code a caller may handle.

try:
    await client.get_task(task_id)
except NotFound:
    ...
except DistillError as e:      # any other failure; e.code is the grpc.StatusCode
    print(e.code.name, e.message)
"""

from __future__ import annotations

import grpc


class DistillError(Exception):
    """A call to Distill failed; `code` is the gRPC status code, `message` what the server said."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(f"{self.code.name}: {message}")
        self.message = message


class InvalidArgument(DistillError):
    """The request is malformed; the message says which field and why."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(DistillError):
    """No such task, item or dead letter (or it belongs to another tenant)."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DistillError):
    """The thing being created exists already."""

    code = grpc.StatusCode.ALREADY_EXISTS


class Unauthenticated(DistillError):
    """Missing or invalid API key."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(DistillError):
    """The key may not do this."""

    code = grpc.StatusCode.PERMISSION_DENIED


class FailedPrecondition(DistillError):
    """The thing is not in a state that allows this (e.g. cancelling a finished task)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(DistillError):
    """A limit or quota was reached; slow down."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(DistillError):
    """The gateway could not be reached (or is restarting); trying again later may work."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(DistillError):
    """The call did not finish within its timeout."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Cancelled(DistillError):
    """The call was cancelled."""

    code = grpc.StatusCode.CANCELLED


class DataLoss(DistillError):
    """What arrived is not what was sent (a download whose size or checksum does not match).
    Raised by the client itself; the server never answers DATA_LOSS."""

    code = grpc.StatusCode.DATA_LOSS


class Internal(DistillError):
    """The server failed; the message may say more."""

    code = grpc.StatusCode.INTERNAL


_BY_CODE: dict[grpc.StatusCode, type[DistillError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        Unauthenticated,
        PermissionDenied,
        FailedPrecondition,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
        Cancelled,
        Internal,
    )
}
_BY_CODE[grpc.StatusCode.OUT_OF_RANGE] = InvalidArgument


def from_rpc_error(e: grpc.RpcError) -> DistillError:
    """The typed exception for a failed gRPC call."""
    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN  # type: ignore[attr-defined]
    message = (e.details() if hasattr(e, "details") else str(e)) or ""  # type: ignore[attr-defined]
    cls = _BY_CODE.get(code, DistillError)
    return cls(message, code)
