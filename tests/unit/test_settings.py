from __future__ import annotations

import pytest
from distill_core.settings import GatewaySettings, Settings


def test_stage_settings_read_service_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILL_PARSER_CONCURRENCY", "7")
    monkeypatch.setenv("DISTILL_AI_BACKOFF", "1, 2,3")
    s = Settings()
    assert s.parse.concurrency == 7
    assert s.ai.backoff == [1.0, 2.0, 3.0]
    assert s.ai.concurrency == 4  # the AI stage's own default, not the generic one


def test_defaults_match_the_design() -> None:
    s = GatewaySettings()
    assert s.parse.backoff == [5.0, 30.0, 300.0]
    assert s.grpc_port == 50051
    assert s.max_urls_per_task == 1000
    assert s.max_url_length == 2048
