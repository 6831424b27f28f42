"""Fetch failures as stable codes: HTTP statuses, Retry-After, transport errors, URLs, redirects."""

from __future__ import annotations

import ssl
from email.utils import formatdate

import httpx
import pytest
from distill_parser.fetch_errors import (
    MAX_RETRY_AFTER,
    http_error,
    parse_target,
    redirect_story,
    retry_after_seconds,
    transport_error,
)


@pytest.mark.parametrize(
    ("status", "code", "retryable", "says"),
    [
        (404, "HTTP_NOT_FOUND", False, "does not exist (HTTP 404)"),
        (410, "HTTP_NOT_FOUND", False, "is gone (HTTP 410)"),
        (401, "HTTP_FORBIDDEN", False, "denied (HTTP 401)"),
        (403, "HTTP_FORBIDDEN", False, "denied (HTTP 403)"),
        (451, "HTTP_FORBIDDEN", False, "denied (HTTP 451)"),
        (400, "HTTP_CLIENT_ERROR", False, "refused the request (HTTP 400)"),
        (418, "HTTP_CLIENT_ERROR", False, "HTTP 418"),
        (408, "HTTP_TIMEOUT", True, "timed out the request (HTTP 408)"),
        (429, "HTTP_RATE_LIMITED", True, "slow down (HTTP 429)"),
        (500, "HTTP_SERVER_ERROR", True, "failed (HTTP 500)"),
        (502, "HTTP_SERVER_ERROR", True, "HTTP 502"),
        (503, "HTTP_SERVER_ERROR", True, "HTTP 503"),
    ],
)
def test_http_statuses_by_kind(status: int, code: str, retryable: bool, says: str) -> None:
    e = http_error(status, "https://example.com/x", httpx.Headers())
    assert (e.code, e.retryable) == (code, retryable)
    assert says in e.message
    assert e.details["http_status"] == str(status)


def test_retry_after_is_honoured_where_it_means_something() -> None:
    h = httpx.Headers({"Retry-After": "7"})
    assert http_error(429, "u", h).retry_after == 7.0  # type: ignore[attr-defined]
    assert http_error(408, "u", h).retry_after == 7.0  # type: ignore[attr-defined]
    assert http_error(503, "u", h).retry_after == 7.0  # type: ignore[attr-defined]
    assert http_error(500, "u", h).retry_after is None  # type: ignore[attr-defined]  # back-off instead
    assert http_error(429, "u", httpx.Headers()).retry_after is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 3 ", 3.0),
        ("-5", 0.0),
        ("1.5", 1.5),
        ("999999", MAX_RETRY_AFTER),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
    ],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=1_700_000_000) == expected


def test_retry_after_as_an_http_date() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds(formatdate(now + 90, usegmt=True), now=now) == pytest.approx(90, abs=1)


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://Example.COM/a?b", ("https", "example.com", 443)),
        ("http://example.com:8080/", ("http", "example.com", 8080)),
        ("http://bücher.example/", ("http", "xn--bcher-kva.example", 80)),
        ("http://[::1]:9/", ("http", "::1", 9)),
        ("http://0177.0.0.1/", ("http", "0177.0.0.1", 80)),  # httpx refuses it; the guard must see it
        ("http://2130706433/", ("http", "2130706433", 80)),
    ],
)
def test_targets(url: str, target: tuple[str, str, int]) -> None:
    t = parse_target(url)
    assert (t.scheme, t.host, t.port) == target


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        ("ftp://example.com/file", "UNSUPPORTED_SCHEME", "scheme 'ftp' is not fetched"),
        ("file:///etc/passwd", "UNSUPPORTED_SCHEME", "scheme 'file'"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "UNSUPPORTED_SCHEME", "scheme 'gopher'"),
        ("http://exa mple.com/", "INVALID_URL", "is not a valid host name"),
        ("http://[::1/", "INVALID_URL", "not valid"),
        ("http:///nohost", "INVALID_URL", "no host"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, code: str, says: str) -> None:
    with pytest.raises(Exception) as e:
        parse_target(url)
    assert e.value.code == code and says in e.value.message and not e.value.retryable  # type: ignore[attr-defined]


def _with_cause(exc: httpx.HTTPError, cause: BaseException) -> httpx.HTTPError:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "code", "retryable"),
    [
        (httpx.ConnectTimeout("t"), "CONNECT_TIMEOUT", True),
        (httpx.ReadTimeout("t"), "FETCH_TIMEOUT", True),
        (httpx.PoolTimeout("t"), "FETCH_TIMEOUT", True),
        (
            _with_cause(httpx.ConnectError("x"), ConnectionRefusedError(111, "Connection refused")),
            "CONNECT_REFUSED",
            True,
        ),
        (httpx.ConnectError("[Errno 113] No route to host"), "CONNECT_ERROR", True),
        (
            _with_cause(httpx.ConnectError("x"), ssl.SSLCertVerificationError("certificate verify failed")),
            "TLS_ERROR",
            False,
        ),
        (httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number"), "TLS_ERROR", False),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "CONNECT_ERROR", True),
        (httpx.ReadError("reset"), "CONNECT_ERROR", True),
        (httpx.DecodingError("bad"), "BAD_ENCODING", False),
        (httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'x://'"), "INVALID_URL", False),
    ],
)
def test_transport_errors(exc: httpx.HTTPError, code: str, retryable: bool) -> None:
    e = transport_error(exc, "https://example.com/")
    assert (e.code, e.retryable) == (code, retryable)
    assert e.details["url"] == "https://example.com/"


def test_redirect_stories() -> None:
    assert "loop (back to http://a/1)" in redirect_story(["http://a/1", "http://a/2", "http://a/1"], 5)
    assert redirect_story([f"http://a/{i}" for i in range(7)], 5) == "more than 5 redirects (last: http://a/6)"
