"""Pure parts of the security settings: where a client takes its TLS settings from, key expiry,
the NATS permission sets, the rate-limit arithmetic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from distill_cli.keys import expiry
from distill_client import config
from distill_core import nats_auth, subjects
from distill_gateway.limits import gcra_window


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    for var in (*config.TLS_ENV.values(), "DISTILL_TLS", "DISTILL_GATEWAY"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_tls_comes_from_the_environment(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.tls_from_env() is None
    monkeypatch.setenv("DISTILL_TLS", "true")
    assert config.tls_from_env() == config.Tls()  # system roots
    monkeypatch.delenv("DISTILL_TLS")
    monkeypatch.setenv("DISTILL_TLS_CA_FILE", "/etc/ca.pem")
    monkeypatch.setenv("DISTILL_TLS_CLIENT_CERT_FILE", "/etc/me.pem")
    monkeypatch.setenv("DISTILL_TLS_CLIENT_KEY_FILE", "/etc/me-key.pem")
    assert config.resolve_tls("gw:443") == config.Tls("/etc/ca.pem", "/etc/me.pem", "/etc/me-key.pem")


def test_what_distill_up_recorded_applies_only_to_the_gateway_it_recorded(state: Path) -> None:
    config.write_last_up({"gateway": "127.0.0.1:5", "api_key": "k", "tls_ca_file": "/d/ca.pem"})
    assert config.resolve_tls() == config.Tls(ca_file="/d/ca.pem")
    # Another gateway named explicitly: the recorded CA is not its CA.
    assert config.resolve_tls("other:50051") is None


def test_unreadable_tls_files_are_a_clear_error(state: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot read the TLS CA bundle /nonexistent/ca\.pem"):
        config.Tls(ca_file="/nonexistent/ca.pem").credentials()
    with pytest.raises(ValueError, match="needs its key"):
        config.Tls(cert_file=__file__).credentials()


def test_key_expiry_accepts_durations_and_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert expiry("90d", now) == now + timedelta(days=90)
    assert expiry("1h30m", now) == now + timedelta(minutes=90)
    assert expiry("2026-12-31", now) == datetime(2026, 12, 31, tzinfo=UTC)
    assert expiry("2026-12-31T18:00:00+01:00", now) == datetime(2026, 12, 31, 17, tzinfo=UTC)
    assert expiry(None) is None
    with pytest.raises(ValueError, match="--expires"):
        expiry("next tuesday", now)


def test_each_nats_user_subscribes_only_to_its_own_inboxes() -> None:
    for user in nats_auth.SERVICES:
        subs = nats_auth.permissions(user)["subscribe"]["allow"]
        assert f"_INBOX.{user}.>" in subs and "_INBOX.>" not in subs, (user, subs)
        assert not any(s.startswith(f"{subjects.EVENTS_PREFIX}") or s in (">", "distill.>") for s in subs)
    conf = nats_auth.server_config({u: f"pw-{u}" for u in nats_auth.USERS})
    assert '"password": "pw-parser"' in conf and "<<" not in conf
    assert json.loads("{" + conf + "}")["system_account"] == "SYS"


def test_gcra_window() -> None:
    assert gcra_window(50, 500) == (0.02, 10.0)
    assert gcra_window(0.5, 3) == (2.0, 6.0)
