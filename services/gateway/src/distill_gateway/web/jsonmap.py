"""Protobuf messages to and from the JSON the HTTP side speaks (pure functions).

Bodies are the protobuf JSON mapping with the proto field names (`task_id`, as in
docs/api.md and the webhooks' `data`); requests accept the lowerCamelCase names too.
Enums are their full names (`TASK_STATUS_FAILED`), 64-bit integers strings, timestamps
RFC 3339. Every field is present in answers, defaults included, so a browser never has
to guess whether a missing `progress` means 0.

Query parameters of GET requests are friendlier: `status=failed` or
`status=TASK_STATUS_FAILED` (repeated, or comma separated), `label=key=value`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from distill_core.errors import InvalidInput
from google.protobuf import json_format
from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def dumps(document: Any) -> str:
    """Compact JSON on one line (an SSE `data:` field must not contain a newline)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def parse_body(body: bytes, cls: type[M]) -> M:
    """A request message from a JSON body; INVALID_ARGUMENT saying what is wrong."""
    name = cls.DESCRIPTOR.name
    if not body.strip():
        return cls()
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidInput(f"the request body is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"the request body must be a JSON object ({name}), not {type(doc).__name__}")
    try:
        return json_format.ParseDict(doc, cls())
    except json_format.ParseError as e:
        raise InvalidInput(f"the request body is not a valid {name}: {e}") from None


def enum_value(enum: EnumDescriptor, field: str, raw: str) -> int:
    """`failed`, `FAILED`, `TASK_STATUS_FAILED` or `5` -> the enum's number."""
    value = raw.strip()
    if value.isdigit() and int(value) in enum.values_by_number:
        return int(value)
    prefix = _prefix(enum)
    name = value.upper().replace("-", "_").replace(" ", "_")
    for candidate in (name, prefix + name):
        v = enum.values_by_name.get(candidate)
        if v is not None and v.number != 0:
            return v.number
    known = ", ".join(v.name.removeprefix(prefix).lower() for v in enum.values if v.number != 0)
    raise InvalidInput(f"{field}: unknown value {raw[:60]!r} (one of: {known})")


def _prefix(enum: EnumDescriptor) -> str:
    """TaskStatus -> TASK_STATUS_ (the proto style guide's value prefix)."""
    names = [v.name for v in enum.values]
    first = names[0]
    cut = first.rfind("_UNSPECIFIED")
    return first[: cut + 1] if cut > 0 else ""


def enum_list(enum: EnumDescriptor, field: str, raws: Iterable[str]) -> list[int]:
    return [enum_value(enum, field, part) for raw in raws for part in raw.split(",") if part.strip()]


def labels(field: str, raws: Iterable[str]) -> dict[str, str]:
    """`key=value` (or `key:value`) pairs."""
    out: dict[str, str] = {}
    for raw in raws:
        sep = "=" if "=" in raw else ":"
        key, found, value = raw.partition(sep)
        if not found or not key.strip():
            raise InvalidInput(f"{field}: {raw[:80]!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


def boolean(field: str, raw: str | None) -> bool:
    if raw is None:
        return False
    v = raw.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise InvalidInput(f"{field}: {raw[:40]!r} is not true or false")


def integer(field: str, raw: str | None, *, minimum: int = 0) -> int:
    if raw is None or not raw.strip():
        return 0
    try:
        n = int(raw.strip())
    except ValueError:
        raise InvalidInput(f"{field}: {raw[:40]!r} is not a whole number") from None
    if n < minimum:
        raise InvalidInput(f"{field} must be at least {minimum} (got {n})")
    return n


def check_params(params: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """A misspelt query parameter is an error, not a silently ignored filter."""
    allowed = list(allowed)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        expected = ", ".join(allowed) if allowed else "none"
        raise InvalidInput(f"unknown query parameter {unknown[0]!r} (expected: {expected})")
