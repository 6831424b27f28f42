from __future__ import annotations

import pytest
from distill_core.errors import InvalidInput
from distill_gateway.validation import check_labels, normalize_url, normalize_urls, resolve_stages


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("https://Example.COM/a%20b?x=1#frag", "https://example.com/a%20b?x=1"),
        ("http://example.com:80", "http://example.com/"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("  https://bücher.example/ ", "https://xn--bcher-kva.example/"),
        ("http://[::1]:8080/p", "http://[::1]:8080/p"),
        ("http://[2001:DB8::1]/", "http://[2001:db8::1]/"),
        ("http://1.2.3.4/x", "http://1.2.3.4/x"),
        ("https://example.com/über?q=%20", "https://example.com/%C3%BCber?q=%20"),
        ("https://EXAMPLE.com./a/../b;c?d=e|f", "https://example.com/a/../b;c?d=e%7Cf"),
        ("https://example.com/%7Euser/{x}", "https://example.com/%7Euser/%7Bx%7D"),
        ("https://example.com?q=1", "https://example.com/?q=1"),
    ],
)
def test_normalize_url(raw: str, want: str) -> None:
    assert normalize_url(raw) == want


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "empty"),
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.com/x", "only http and https"),
        ("example.com/page", "no scheme"),
        ("https://", "no host"),
        ("https://user:pw@example.com/", "credentials"),
        ("https://exa mple.com/", "whitespace"),
        ("https://example.com/\u00a0x", "whitespace"),
        ("https://example.com/\x01", "control characters"),
        ("https://-bad-.com/", "invalid host"),
        ("https://example.com:99999/", "invalid host or port"),
        ("https://example.com/" + "a" * 3000, "limit is 2048"),
    ],
)
def test_bad_urls_say_what_is_wrong(raw: str, says: str) -> None:
    with pytest.raises(InvalidInput) as e:
        normalize_url(raw)
    assert says in e.value.message


def test_bad_url_in_a_list_is_named_by_position() -> None:
    with pytest.raises(InvalidInput) as e:
        normalize_urls(["https://ok.example/", "javascript:alert(1)"], max_urls=10, max_length=2048)
    assert "urls[1]" in e.value.message and "javascript" in e.value.message


def test_empty_and_too_many_urls() -> None:
    with pytest.raises(InvalidInput, match="at least one URL"):
        normalize_urls([], max_urls=10, max_length=2048)
    with pytest.raises(InvalidInput, match="limit is 2 per task"):
        normalize_urls(["https://a.example/"] * 3, max_urls=2, max_length=2048)


def test_resolve_stages() -> None:
    assert resolve_stages("parse", []) == ["parse", "ai", "notion"]
    assert resolve_stages("ai", []) == ["ai", "notion"]
    assert resolve_stages("parse", ["parse"]) == ["parse"]
    assert resolve_stages("parse", ["parse", "ai"]) == ["parse", "ai"]
    with pytest.raises(InvalidInput, match="contiguous"):
        resolve_stages("parse", ["parse", "notion"])
    with pytest.raises(InvalidInput, match="must start at 'parse'"):
        resolve_stages("parse", ["ai", "notion"])
    with pytest.raises(InvalidInput, match="repeat"):
        resolve_stages("parse", ["parse", "parse"])


def test_labels() -> None:
    assert check_labels({"team": "news"}) == {"team": "news"}
    with pytest.raises(InvalidInput, match="key"):
        check_labels({"Bad Key": "x"})
    with pytest.raises(InvalidInput, match="limit is 2"):
        check_labels({"a": "1", "b": "2", "c": "3"}, max_labels=2)
