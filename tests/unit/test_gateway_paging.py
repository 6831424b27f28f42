"""Page sizes and page tokens (pure functions)."""

from __future__ import annotations

import base64
import json

import pytest
from distill_core.errors import InvalidInput
from distill_gateway import paging, validation


def test_page_size_defaults_and_limits() -> None:
    assert paging.page_size(0, default=50, maximum=1000) == 50
    assert paging.page_size(1000, default=50, maximum=1000) == 1000
    with pytest.raises(InvalidInput, match="page_size 1001 is over the limit of 1000"):
        paging.page_size(1001, default=50, maximum=1000)
    with pytest.raises(InvalidInput, match="negative"):
        paging.page_size(-5, default=50, maximum=1000)


def test_token_round_trip_for_the_same_query() -> None:
    fp = paging.fingerprint("ListTasks", "t1", {"statuses": ["failed"], "labels": {"a": "b"}})
    token = paging.encode_token(fp, ["2026-01-01T00:00:00.123456+00:00", "00000000-0000-4000-8000-000000000001"])
    assert "=" not in token and "2026" not in token  # opaque and URL-safe
    assert paging.decode_token(token, fp) == [
        "2026-01-01T00:00:00.123456+00:00",
        "00000000-0000-4000-8000-000000000001",
    ]
    assert paging.decode_token("", fp) is None


def test_fingerprint_names_method_tenant_and_filters_not_their_order() -> None:
    a = paging.fingerprint("ListTasks", "t1", {"labels": {"a": "1", "b": "2"}, "statuses": []})
    assert a == paging.fingerprint("ListTasks", "t1", {"statuses": [], "labels": {"b": "2", "a": "1"}})
    assert a != paging.fingerprint("ListTasks", "t2", {"labels": {"a": "1", "b": "2"}, "statuses": []})
    assert a != paging.fingerprint("ListItems", "t1", {"labels": {"a": "1", "b": "2"}, "statuses": []})
    assert a != paging.fingerprint("ListTasks", "t1", {"labels": {"a": "1"}, "statuses": []})


def test_token_of_another_query_or_altered_is_rejected() -> None:
    fp = paging.fingerprint("ListItems", "t1", {"task": "x"})
    token = paging.encode_token(fp, [41])
    with pytest.raises(InvalidInput, match="another query"):
        paging.decode_token(token, paging.fingerprint("ListItems", "t1", {"task": "y"}))
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    check, _, body = raw.partition(".")
    doc = json.loads(body)
    doc["a"] = [0]  # jump back to the start without re-signing
    forged = base64.urlsafe_b64encode(f"{check}.{json.dumps(doc)}".encode()).decode()
    for bad in (forged, "abc", "!!!", token[:-2]):
        with pytest.raises(InvalidInput, match="malformed"):
            paging.decode_token(bad, fp)


def test_cursors_read_back_from_tokens() -> None:
    t, i = validation.time_cursor(["2026-01-01T00:00:00+00:00", "00000000-0000-4000-8000-000000000001"])  # type: ignore[misc]
    assert t.year == 2026 and str(i) == "00000000-0000-4000-8000-000000000001"
    assert validation.time_cursor(None) is None
    assert validation.position_cursor([7]) == 7
    for bad in (["x", "y"], ["2026-01-01"], [1, 2, 3]):
        with pytest.raises(InvalidInput, match="malformed"):
            validation.time_cursor(bad)
    with pytest.raises(InvalidInput, match="malformed"):
        validation.position_cursor(["7"])
