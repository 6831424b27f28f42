"""The error tree: one root, retryable and permanent branches, stable codes.

Stage code raises these; the stage runner turns them into nak / term and an
`ErrorInfo`; the gateway turns the API branch into gRPC status codes. Codes are
stable strings documented in docs/errors.md: clients may switch on them.
"""

from __future__ import annotations

from typing import Any

import grpc
from distill.v1 import common_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from distill_core.logging import redact_text


class DistillError(Exception):
    """Root of every error Distill raises on purpose."""

    code: str = "INTERNAL"
    retryable: bool = False
    grpc_status: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str = "", *, code: str | None = None, **details: Any) -> None:
        # Secrets never reach an ErrorInfo, a status message or a log line (logging.redact_text).
        message = redact_text(message) if message else message
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        if code:
            self.code = code
        self.details = {k: redact_text(str(v)) for k, v in details.items() if v is not None}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class RetryableError(DistillError):
    """A transient failure: trying again later may work."""

    code = "RETRYABLE"
    retryable = True
    grpc_status = grpc.StatusCode.UNAVAILABLE

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        #: Seconds the peer asked us to wait; a wait for it does not consume an attempt.
        self.retry_after = retry_after


class PermanentError(DistillError):
    """A failure that will not go away by trying again."""

    code = "PERMANENT"
    retryable = False
    grpc_status = grpc.StatusCode.FAILED_PRECONDITION


# --- retryable -------------------------------------------------------------------------


class TimeoutFailure(RetryableError):
    """The work did not finish within its time limit."""

    code = "TIMEOUT"
    grpc_status = grpc.StatusCode.DEADLINE_EXCEEDED


class ConnectionFailure(RetryableError):
    """The peer could not be reached."""

    code = "CONNECTION_ERROR"


class RateLimited(RetryableError):
    """The peer asked us to slow down (HTTP 429)."""

    code = "RATE_LIMITED"
    grpc_status = grpc.StatusCode.RESOURCE_EXHAUSTED


class UpstreamError(RetryableError):
    """The peer failed on its side (HTTP 5xx)."""

    code = "UPSTREAM_ERROR"


class DatabaseUnavailable(RetryableError):
    """PostgreSQL could not be reached or the transaction failed transiently."""

    code = "DB_UNAVAILABLE"


class WorkerLost(RetryableError):
    """The worker handling the job stopped before finishing it."""

    code = "WORKER_LOST"


# --- permanent -------------------------------------------------------------------------


class InvalidInput(PermanentError):
    """The request or job is malformed."""

    code = "INVALID_ARGUMENT"
    grpc_status = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(PermanentError):
    """The thing asked for does not exist (or is not the caller's)."""

    code = "NOT_FOUND"
    grpc_status = grpc.StatusCode.NOT_FOUND


class FailedPrecondition(PermanentError):
    """The thing is not in a state that allows this."""

    code = "FAILED_PRECONDITION"
    grpc_status = grpc.StatusCode.FAILED_PRECONDITION


class Unauthenticated(PermanentError):
    """Missing or invalid credentials."""

    code = "UNAUTHENTICATED"
    grpc_status = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(PermanentError):
    """The caller may not do this."""

    code = "PERMISSION_DENIED"
    grpc_status = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(PermanentError):
    """A limit was reached."""

    code = "RESOURCE_EXHAUSTED"
    grpc_status = grpc.StatusCode.RESOURCE_EXHAUSTED


class UnsupportedContent(PermanentError):
    """The content type cannot be processed."""

    code = "UNSUPPORTED_CONTENT"


class PoisonMessage(PermanentError):
    """The job failed the worker on every delivery (it crashed or hung each time)."""

    code = "POISON_MESSAGE"


class Cancelled(PermanentError):
    """The task or item was cancelled."""

    code = "CANCELLED"
    grpc_status = grpc.StatusCode.CANCELLED


def classify(exc: BaseException) -> DistillError:
    """Any exception as a DistillError (unknown ones are INTERNAL and retryable)."""
    if isinstance(exc, DistillError):
        return exc
    if isinstance(exc, TimeoutError):
        return TimeoutFailure("timed out")
    if isinstance(exc, ConnectionError | OSError):
        return ConnectionFailure(f"{type(exc).__name__}: {exc}")
    err = RetryableError(f"unexpected {type(exc).__name__}: {exc}"[:500], code="INTERNAL")
    return err


def error_info(err: DistillError, *, stage: int = 0, attempt: int = 0) -> common_pb2.ErrorInfo:
    """The ErrorInfo message for an error."""
    ts = Timestamp()
    ts.GetCurrentTime()
    return common_pb2.ErrorInfo(
        code=err.code,
        message=err.message,
        retryable=err.retryable,
        stage=stage,  # type: ignore[arg-type]
        attempt=attempt,
        occur_time=ts,
        details=err.details,
    )


def error_dict(err: DistillError, *, stage: str, attempt: int) -> dict[str, Any]:
    """The JSON form stored in PostgreSQL (items.error, phases.error)."""
    return {
        "code": err.code,
        "message": err.message,
        "retryable": err.retryable,
        "stage": stage,
        "attempt": attempt,
        "details": err.details,
    }


async def abort(context: grpc.aio.ServicerContext, err: DistillError) -> None:
    """Abort an RPC with the error's canonical status and message."""
    await context.abort(err.grpc_status, err.message)
