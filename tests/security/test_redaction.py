"""The redaction of secrets in logs and errors, as pure functions and through a configured logger."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from distill_core import logging as dlog
from distill_core.errors import PermanentError, classify, error_dict, error_info


@pytest.fixture
def configured() -> Iterator[None]:
    """dlog.configure() for one test; the process's logging as it was afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9.payload.sig"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("key dk_Ab3dE6gH9_0123456789abcdefghijklmnopqrstuv given", "0123456789abcdefghijklmnopqrstuv"),
        ("signed with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("notion secret_abcdefghijklmnopqrstuvwxyz0123456789ABC", "abcdefghijklmnopqrstuvwxyz0123456789ABC"),
        ("notion ntn_123456789012345678901234567890abcdefghij", "123456789012345678901234567890abcdefghij"),
        ("openai sk-proj-abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx"),
        ("nats://parser:hunter2hunter2@nats:4222", "hunter2hunter2"),
        ("postgresql://app:p4ssw0rd!@db/distill", "p4ssw0rd!"),
        ("connect failed: password=topsecret99 host=db", "topsecret99"),
        ('{"api_key": "abcdefgh12345"}', "abcdefgh12345"),
        ("https://hooks.example.com/x?token=tok_123456789", "tok_123456789"),
    ],
)
def test_secret_shapes_are_redacted_in_any_string(text: str, secret: str) -> None:
    out = dlog.redact_text(text)
    assert secret not in out and dlog.REDACTED in out, out


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens: 1000 prompt_tokens=55",
        "https://example.com/articles/42?page=2",
        "task 1b4e28ba-2fa1-11d2-883f-0016d3cca427 not found",
        "the page does not exist (HTTP 404)",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert dlog.redact_text(text) == text


def test_configured_secret_values_are_redacted_wherever_they_appear(monkeypatch: pytest.MonkeyPatch) -> None:
    value = "dev-key-that-looks-like-nothing-42"
    pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----"
    monkeypatch.setenv("DISTILL_DEV_API_KEY", value)
    monkeypatch.setenv("DISTILL_VAPID_PRIVATE_KEY", pem)
    monkeypatch.setenv("DISTILL_VAPID_PUBLIC_KEY", "BPublicKeyIsNotASecret0123456789")
    dlog.register_secrets_from_env()
    assert value not in dlog.redact_text(f"got {value}!")
    assert "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg" not in dlog.redact_text(f"key:\n{pem}")
    assert dlog.redact_text("BPublicKeyIsNotASecret0123456789") == "BPublicKeyIsNotASecret0123456789"


def test_a_configured_logger_redacts_fields_nesting_exceptions_and_library_records(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], configured: None
) -> None:
    token = "secret_" + "z" * 40
    monkeypatch.setenv("DISTILL_NOTION_TOKEN", token)
    dlog.configure("test", "DEBUG", "json")
    log = dlog.get_logger("t")
    log.info("fields", notion_token=token, headers={"Authorization": "Bearer abcdefghijkl"}, note=f"with {token}")
    try:
        raise RuntimeError(f"request failed with {token}")
    except RuntimeError:
        log.exception("boom")
    logging.getLogger("httpx").warning("library says %s", token)
    err = capsys.readouterr().err
    assert token not in err and "abcdefghijkl" not in err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(lines) == 3 and all(dlog.REDACTED in json.dumps(x) for x in lines), lines


def test_errors_never_carry_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    dlog.register_secret("the-notion-token-of-this-deployment")
    e = PermanentError(
        "Notion said: invalid token the-notion-token-of-this-deployment",
        code="HTTP_FORBIDDEN",
        url="https://api.example.com/?api_key=abc12345",
    )
    for shown in (e.message, str(error_info(e)), json.dumps(error_dict(e, stage="notion", attempt=1))):
        assert "the-notion-token-of-this-deployment" not in shown and "abc12345" not in shown, shown
    wrapped = classify(ConnectionError("could not reach https://u:pw123456@host/"))
    assert "pw123456" not in wrapped.message


def test_redaction_keeps_structlog_internals(configured: None) -> None:
    """The stdlib bridge's _record must survive the processor (else every library line is lost)."""
    stream = io.StringIO()
    dlog.configure("test", "INFO", "json")
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    logging.getLogger("nats").warning("plain %s", "line")
    assert '"plain line"' in stream.getvalue()
