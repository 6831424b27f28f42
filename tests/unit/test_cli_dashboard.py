"""`distill up` and the dashboard: the HTTP port, the dashboard line's URL, development VAPID keys."""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from distill_cli import dashboard


def test_the_http_port_is_the_setting_or_a_free_one() -> None:
    assert dashboard.http_port("127.0.0.1", {"DISTILL_HTTP_PORT": "8080"}) == 8080
    for env in ({}, {"DISTILL_HTTP_PORT": "0"}, {"DISTILL_HTTP_PORT": " "}):
        assert 0 < dashboard.http_port("127.0.0.1", env) < 65536
    for bad in ("http", "70000", "-1"):
        with pytest.raises(ValueError, match="DISTILL_HTTP_PORT"):
            dashboard.http_port("127.0.0.1", {"DISTILL_HTTP_PORT": bad})


def test_the_dashboard_url_carries_the_key_in_its_fragment() -> None:
    url = dashboard.dashboard_url("127.0.0.1", 8080, "dk_a+b/c=")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "127.0.0.1:8080", "/")
    assert parts.query == "" and unquote(parts.fragment.removeprefix("key=")) == "dk_a+b/c="
    assert dashboard.dashboard_url("::1", 1, "k", tls=True) == "https://[::1]:1/#key=k"


def test_development_vapid_keys_are_made_once_and_kept(tmp_path: Path) -> None:
    keys = dashboard.vapid_env(tmp_path, {})
    assert set(keys) == {"DISTILL_VAPID_PUBLIC_KEY", "DISTILL_VAPID_PRIVATE_KEY"}
    public = base64.urlsafe_b64decode(keys["DISTILL_VAPID_PUBLIC_KEY"] + "==")
    assert len(public) == 65 and public[0] == 4, "an uncompressed P-256 point"
    saved = tmp_path / dashboard.VAPID_FILE
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600, "the private key is not for other users"
    assert dashboard.vapid_env(tmp_path, {}) == keys, "a second `up` keeps the subscriptions valid"
    configured = {"DISTILL_VAPID_PUBLIC_KEY": "BPk", "DISTILL_VAPID_PRIVATE_KEY": "x"}
    assert dashboard.vapid_env(tmp_path / "other", configured) == {}, "the environment's keys win"
    assert not (tmp_path / "other").exists()
