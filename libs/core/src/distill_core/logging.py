"""structlog set-up: JSON lines (or console for people), bound ids, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

SECRET_KEYS = re.compile(r"(authorization|api[_-]?key|token|secret|password|passwd|private[_-]?key|auth)$", re.I)
BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}")
KEY_LIKE = re.compile(r"\b(dk_[A-Za-z0-9]{4,}_)[A-Za-z0-9_-]{8,}")
REDACTED = "[redacted]"


def _redact_value(v: Any) -> Any:
    if isinstance(v, str):
        return KEY_LIKE.sub(r"\1" + REDACTED, BEARER.sub(r"\1" + REDACTED, v))
    if isinstance(v, dict):
        return {k: (REDACTED if SECRET_KEYS.search(str(k)) and x else _redact_value(x)) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_redact_value(x) for x in v]
    return v


def redact(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Replace secrets: values of secret-named keys, bearer tokens, Distill API keys."""
    for k, v in list(event.items()):
        if SECRET_KEYS.search(k) and v:
            event[k] = REDACTED
        else:
            event[k] = _redact_value(v)
    return event


def configure(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Configure structlog and the standard library root logger for one process."""
    lvl = getattr(logging, level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
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
