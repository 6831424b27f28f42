"""The problem-details answer (RFC 9457) every route fails with."""

from __future__ import annotations

import grpc
from starlette.responses import JSONResponse, Response

from distill_gateway.web import problems


class ProblemResponse(JSONResponse):
    media_type = problems.PROBLEM_JSON


def problem_response(code: grpc.StatusCode, detail: str, instance: str = "", *, status: int | None = None) -> Response:
    status, body = problems.problem(code, detail, instance, status=status)
    return ProblemResponse(body, status_code=status, headers=problems.headers_for(code))
