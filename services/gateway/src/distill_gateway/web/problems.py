"""Errors as JSON problem details (RFC 9457), from gRPC status codes (pure functions).

The HTTP status of each gRPC code is Google's mapping (google.rpc.Code, the one
grpc-gateway and Google's JSON APIs use). The body names the gRPC code too, so a
client switches on `code` exactly as a gRPC client switches on the status code.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import grpc

PROBLEM_JSON = "application/problem+json"

HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}
# Answers that come from HTTP itself (no route, wrong method), named in gRPC's terms too.
CODE_OF_HTTP = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def title(status: int) -> str:
    """The status's reason phrase (RFC 9457 section 4.2.1: the title for `about:blank`)."""
    if status == 499:
        return "Client Closed Request"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(
    code: grpc.StatusCode, detail: str, instance: str = "", *, status: int | None = None
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, problem document) for a failed call; `status` overrides the code's own."""
    status = status or HTTP_STATUS.get(code, 500)
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title(status),
        "status": status,
        "detail": detail,
        "code": code.name,
    }
    if instance:
        body["instance"] = instance
    return status, body


def headers_for(code: grpc.StatusCode) -> dict[str, str]:
    """Extra response headers a status calls for."""
    if code == grpc.StatusCode.UNAUTHENTICATED:
        # RFC 6750 section 3: say which scheme the API expects.
        return {"WWW-Authenticate": 'Bearer realm="distill"'}
    return {}
