import pytest
from distill_ai.settings import AiSettings
from distill_core.ai_models import DEFAULT_NAME, check_model_name, load_models
from distill_core.errors import InvalidInput


def test_the_default_model_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILL_AI_PROVIDER", "openai")
    monkeypatch.setenv("DISTILL_AI_BASE_URL", "http://llm.test/v1")
    monkeypatch.setenv("DISTILL_AI_MODEL", "qwen")
    monkeypatch.setenv("DISTILL_AI_API_KEY", "sk-secret")
    monkeypatch.setenv("DISTILL_AI_RPM", "60")
    m = load_models()[DEFAULT_NAME]
    assert (m.provider, m.base_url, m.model, m.key(), m.rpm) == (
        "openai",
        "http://llm.test/v1",
        "qwen",
        "sk-secret",
        60,
    )
    assert "sk-secret" not in repr(m)
    assert AiSettings().models()[DEFAULT_NAME] == m  # the stage and the gateway read the same


def test_named_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILL_AI_API_KEY", "sk-default")
    monkeypatch.setenv("OTHER_KEY", "sk-other")
    monkeypatch.setenv(
        "DISTILL_AI_MODELS",
        '{"mini": {"provider": "openai", "model": "gpt-4o-mini"},'
        ' "vllm": {"provider": "openai", "base_url": "http://vllm:8000/v1", "model": "q"},'
        ' "other": {"provider": "openai", "base_url": "http://x/v1", "api_key_env": "OTHER_KEY"}}',
    )
    models = load_models()
    assert set(models) == {"default", "mini", "vllm", "other"}
    assert models["mini"].key() == "sk-default"  # same endpoint as the default: its key
    assert models["vllm"].key() is None  # another endpoint never gets the default key
    assert models["other"].key() == "sk-other"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ('{"x": 3}', "must be an object"),
        ('{"x": {"provider": "anthropic"}}', "DISTILL_AI_MODELS\\['x'\\] is not valid"),
        ('{"x": {"modle": "typo"}}', "modle"),
    ],
)
def test_bad_named_models_say_what_is_wrong(monkeypatch: pytest.MonkeyPatch, raw: str, problem: str) -> None:
    monkeypatch.setenv("DISTILL_AI_MODELS", raw)
    with pytest.raises(ValueError, match=problem):
        load_models()


def test_check_model_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILL_AI_MODELS", '{"fast": {"provider": "local"}}')
    check_model_name("")
    check_model_name("fast")
    with pytest.raises(InvalidInput, match="'slow' is not a configured model \\(known: default, fast\\)"):
        check_model_name("slow")
