"""structlog set-up: JSON lines (or console for people), bound ids, secrets redacted.

`redact` (a structlog processor, also applied to the standard library's records) removes
secrets from every event before it is rendered, three ways:

* by name: the value of any key called like a secret (authorization, api_key, token,
  secret, password, private_key, auth, credentials, cookie), at any depth;
* by shape, inside any string (messages, exception text, URLs): bearer and basic
  credentials, Distill API keys (dk_...), webhook secrets (whsec_...), Notion tokens
  (secret_..., ntn_...), OpenAI-style keys (sk-...), passwords in URLs
  (scheme://user:PASSWORD@host) and `password=...`-style pairs;
* by value: every secret this process was configured with (DISTILL_* variables named
  like a secret, read by `configure`; more with `register_secret`), wherever it appears.

`redact_text` is the same for one string (ErrorInfo messages use it, see errors.py).

Every line carries `service`; lines about one item also `stage`, `task_id`, `item_id`,
`attempt` and `trace_id` (bound by the runner from the job; with tracing on, the current
span's `trace_id` and `span_id` are added to any line logged inside a span).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from distill_core import tracing

SECRET_KEYS = re.compile(
    r"(authorization|api[_-]?key|token|secret|password|passwd|private[_-]?key|auth|credentials?|cookie)$", re.I
)
REDACTED = "[redacted]"
# (pattern, replacement): the part before the secret is kept so the line stays readable.
SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(basic\s+)[A-Za-z0-9+/=]{8,}"), r"\1" + REDACTED),
    (re.compile(r"\b(dk_[A-Za-z0-9]{4,}_)[A-Za-z0-9_-]{8,}"), r"\1" + REDACTED),
    (re.compile(r"\b(whsec_)[A-Za-z0-9+/=_-]{8,}"), r"\1" + REDACTED),
    (re.compile(r"\b(secret_|ntn_)[A-Za-z0-9]{16,}"), r"\1" + REDACTED),
    (re.compile(r"\b(sk-)[A-Za-z0-9_-]{16,}"), r"\1" + REDACTED),
    (re.compile(r"([a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s/@]+@", re.I), r"\1" + REDACTED + "@"),
    (
        re.compile(
            r"(?i)\b((?:password|passwd|secret|token|api[_-]?key|private[_-]?key)[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;}]{4,}"
        ),
        r"\1" + REDACTED,
    ),
)
# Environment variables whose values are secrets (DISTILL_VAPID_PUBLIC_KEY is not one).
SECRET_ENV = re.compile(r"^(DISTILL_|NATS_).*(PASSWORD|TOKEN|SECRET|API_KEY|PRIVATE_KEY)$")
MIN_SECRET_LENGTH = 8

_known: set[str] = set()
_known_re: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Redact this exact value (and each long line of it, for PEM blocks) wherever it appears."""
    global _known_re
    if not value:
        return
    parts = {value.strip(), *(line.strip() for line in value.splitlines())}
    fresh = {p for p in parts if len(p) >= MIN_SECRET_LENGTH and not p.startswith("-----")} - _known
    if fresh:
        _known.update(fresh)
        _known_re = re.compile("|".join(re.escape(s) for s in sorted(_known, key=len, reverse=True)))


def register_secrets_from_env(env: Mapping[str, str] | None = None) -> None:
    """Register the values of the DISTILL_*/NATS_* variables named like secrets."""
    for name, value in (os.environ if env is None else env).items():
        if SECRET_ENV.match(name.upper()):
            register_secret(value)


def register_secrets(values: Iterable[str]) -> None:
    for v in values:
        register_secret(v)


def redact_text(s: str) -> str:
    """A string with every secret in it replaced by [redacted]."""
    if _known_re is not None:
        s = _known_re.sub(REDACTED, s)
    for pattern, repl in SHAPES:
        s = pattern.sub(repl, s)
    return s


def _redact_value(v: Any) -> Any:
    if isinstance(v, str):
        return redact_text(v)
    if isinstance(v, dict):
        return {k: (REDACTED if SECRET_KEYS.search(str(k)) and x else _redact_value(x)) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_redact_value(x) for x in v]
    if isinstance(v, bytes | bytearray):
        return _redact_value(bytes(v).decode(errors="replace"))
    if v is None or isinstance(v, bool | int | float):
        return v
    return _redact_value(str(v))  # an exception, a URL object...: as it would be rendered


def redact(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Replace secrets: values of secret-named keys, secret-shaped strings, known secret values."""
    for k, v in list(event.items()):
        if k.startswith("_"):  # structlog's own (_record, _from_structlog)
            continue
        if SECRET_KEYS.search(k) and v:
            event[k] = REDACTED
        else:
            event[k] = _redact_value(v)
    return event


def configure(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Configure structlog and the standard library root logger for one process."""
    register_secrets_from_env()
    lvl = getattr(logging, level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        tracing.log_processor,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer(serializer=_dumps)
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries log through the standard library: same processors, same stream, quieter.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(lvl, logging.WARNING))


def _dumps(obj: Any, **_kw: Any) -> str:
    import orjson

    return orjson.dumps(obj, default=str).decode()


def get_logger(name: str | None = None, **bound: Any) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name, **bound)
