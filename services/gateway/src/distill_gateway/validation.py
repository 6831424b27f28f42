"""Checking what a client sends (pure functions; each error names the bad entry)."""

from __future__ import annotations

import functools
import ipaddress
import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from distill_core.errors import InvalidInput
from distill_core.subjects import STAGE_NAME, STAGES

ALLOWED_SCHEMES = ("http", "https")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
LABEL_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f]")  # \s: what str.isspace() calls whitespace
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
# Strings quote() would return unchanged (letters, digits and the safe characters): skip it.
_PATH_AS_IS = re.compile(r"[A-Za-z0-9/%:@!$&'()*+,;=\-._~]*")
_QUERY_AS_IS = re.compile(r"[A-Za-z0-9/%:@!$&'()*+,;=\-._~?]*")


def normalize_url(raw: str, *, max_length: int = 2048) -> str:
    """A canonical form of an http(s) URL, or InvalidInput saying what is wrong with it.

    Lower-cases scheme and host (IDNA-encoded), drops default ports and the fragment,
    percent-encodes what must be.
    """
    s = raw.strip()
    if not s:
        raise InvalidInput("is empty")
    if len(s) > max_length:
        raise InvalidInput(f"is {len(s)} characters long; the limit is {max_length}")
    if _SPACE_OR_CONTROL.search(s):
        raise InvalidInput("contains whitespace or control characters")
    try:
        parts = urlsplit(s)
    except ValueError as e:
        raise InvalidInput(f"is not a valid URL ({e})") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise InvalidInput("has no scheme (expected http:// or https://)")
    if scheme not in ALLOWED_SCHEMES:
        raise InvalidInput(f"has scheme {scheme!r}; only http and https are allowed")
    if parts.username or parts.password:
        raise InvalidInput("contains credentials (user:password@); they are not allowed")
    try:
        host = parts.hostname or ""
        port = parts.port
    except ValueError as e:
        raise InvalidInput(f"has an invalid host or port ({e})") from None
    if not host:
        raise InvalidInput("has no host")
    host = _normalize_host(host)
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and not (scheme == "http" and port == 80) and not (scheme == "https" and port == 443):
        netloc += f":{port}"
    path = parts.path or "/"
    if not _PATH_AS_IS.fullmatch(path):
        path = quote(path, safe=_PATH_SAFE)
    query = parts.query
    if not _QUERY_AS_IS.fullmatch(query):
        query = quote(query, safe=_PATH_SAFE + "?")
    out = urlunsplit((scheme, netloc, path, query, ""))
    if len(out) > max_length:
        raise InvalidInput(f"is {len(out)} characters long once normalized; the limit is {max_length}")
    return out


@functools.lru_cache(maxsize=4096)  # a batch of URLs usually shares a few hosts
def _normalize_host(host: str) -> str:
    if ":" in host or host.replace(".", "").isdigit():  # what ip_address() can accept
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
    host = host.rstrip(".").lower()
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput(f"has an invalid host name {host!r}") from None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_HOST_LABEL.match(lbl) for lbl in labels):
        raise InvalidInput(f"has an invalid host name {host!r}")
    return ascii_host


def normalize_urls(urls: list[str], *, max_urls: int, max_length: int) -> list[str]:
    """Normalize every URL; the error names the first bad one by position and value."""
    if not urls:
        raise InvalidInput("urls: at least one URL is required")
    if len(urls) > max_urls:
        raise InvalidInput(f"urls: {len(urls)} URLs given; the limit is {max_urls} per task")
    out = []
    for i, u in enumerate(urls):
        try:
            out.append(normalize_url(u, max_length=max_length))
        except InvalidInput as e:
            shown = u if len(u) <= 100 else u[:97] + "..."
            raise InvalidInput(f"urls[{i}] {shown!r} {e.message}") from None
    return out


def parse_ids(field: str, ids: list[str], *, max_ids: int) -> list[uuid.UUID]:
    if not ids:
        raise InvalidInput(f"{field}: at least one id is required")
    if len(ids) > max_ids:
        raise InvalidInput(f"{field}: {len(ids)} ids given; the limit is {max_ids}")
    out = []
    for i, v in enumerate(ids):
        try:
            out.append(uuid.UUID(v.strip()))
        except ValueError:
            raise InvalidInput(f"{field}[{i}] {v[:60]!r} is not a valid id") from None
    return out


def parse_id(field: str, v: str) -> uuid.UUID:
    """An id from a request; a malformed one is INVALID_ARGUMENT."""
    if not v:
        raise InvalidInput(f"{field} is required")
    try:
        return uuid.UUID(v.strip())
    except ValueError:
        raise InvalidInput(f"{field} {v[:60]!r} is not a valid id") from None


def resolve_stages(first: str, requested: list[str]) -> list[str]:
    """The task's stages: `requested` if it is a contiguous run starting at `first`, else an error."""
    if not requested:
        return list(STAGES[STAGES.index(first) :])
    if len(set(requested)) != len(requested):
        raise InvalidInput(f"stages {requested} repeat a stage")
    start = STAGES.index(requested[0])
    if requested != list(STAGES[start : start + len(requested)]):
        raise InvalidInput(f"stages {requested} are not a contiguous run in pipeline order {list(STAGES)}")
    if requested[0] != first:
        raise InvalidInput(f"stages {requested} must start at {first!r}, the stage this input starts at")
    return requested


def check_labels(labels: dict[str, str], *, max_labels: int = 32, max_value: int = 200) -> dict[str, str]:
    if len(labels) > max_labels:
        raise InvalidInput(f"labels: {len(labels)} given; the limit is {max_labels}")
    for k, v in labels.items():
        if not LABEL_KEY.match(k):
            raise InvalidInput(f"labels: key {k[:70]!r} must be 1-63 of a-z 0-9 _ . - starting with a letter or digit")
        if len(v) > max_value:
            raise InvalidInput(f"labels: value of {k!r} is {len(v)} characters; the limit is {max_value}")
    return dict(labels)


def id_list(field: str, ids: list[str], *, max_ids: int = 1000) -> list[uuid.UUID]:
    """Optional ids (may be empty); a malformed one is named by position."""
    if len(ids) > max_ids:
        raise InvalidInput(f"{field}: {len(ids)} ids given; the limit is {max_ids}")
    return parse_ids(field, ids, max_ids=max_ids) if ids else []


def stage_filter(field: str, value: int) -> str | None:
    """A Stage enum used as a filter: None when unset, its name, or an error for unknown values."""
    if not value:
        return None
    if value not in STAGE_NAME:
        raise InvalidInput(f"{field}: unknown stage value {value}")
    return STAGE_NAME[value]


def status_filter(field: str, values: list[int], names: dict[int, str]) -> list[str]:
    """Status enums used as a filter, as stored names (sorted, without repeats)."""
    out = set()
    for v in values:
        if v not in names:
            raise InvalidInput(f"{field}: unknown or unspecified status value {v}")
        out.add(names[v])
    return sorted(out)


def error_code_filter(value: str) -> str | None:
    code = value.strip()
    if len(code) > 64:
        raise InvalidInput("error_code is longer than 64 characters")
    return code or None


def time_cursor(after: list[Any] | None) -> tuple[datetime, uuid.UUID] | None:
    """The (create time, id) a newest-first page starts after, read back from a page token."""
    if after is None:
        return None
    try:
        created, task_id = after
        return datetime.fromisoformat(created), uuid.UUID(task_id)
    except (TypeError, ValueError):
        raise InvalidInput("page_token is malformed (pass next_page_token of the previous page unchanged)") from None


def position_cursor(after: list[Any] | None) -> int | None:
    if after is None:
        return None
    if len(after) != 1 or not isinstance(after[0], int):
        raise InvalidInput("page_token is malformed (pass next_page_token of the previous page unchanged)")
    return after[0]


def some_ids(ids: list[Any]) -> str:
    """The first few ids of a list, and how many more, for an error message."""
    more = f" and {len(ids) - 3} more" if len(ids) > 3 else ""
    return ", ".join(str(i) for i in ids[:3]) + more
