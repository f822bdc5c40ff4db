"""Settings: .env.example lists every field; environment, YAML and fallbacks behave as documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(__import__("os").environ):
        if key.startswith(("DEVOPS_AGENT_", "OPENAI_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env


def example_names() -> list[str]:
    text = (ROOT / ".env.example").read_text()
    return re.findall(r"^DEVOPS_AGENT_([A-Z0-9_]+)=", text, flags=re.M)


def test_env_example_lists_every_field_once():
    names = example_names()
    assert len(names) == len(set(names))
    assert sorted(n.lower() for n in names) == sorted(Settings.model_fields)


def test_env_example_defaults_are_valid_settings(monkeypatch):
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("DEVOPS_AGENT_") and not line.endswith("="):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key, value)
    s = load_settings()
    assert s.max_steps == Settings.model_fields["max_steps"].default


def test_every_field_is_described():
    missing = [n for n, f in Settings.model_fields.items() if not (f.description or "").strip()]
    assert missing == []


def test_environment_overrides_and_openai_fallbacks(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback")
    monkeypatch.setenv("DEVOPS_AGENT_MAX_STEPS", "7")
    s = load_settings()
    assert s.max_steps == 7
    assert s.use_llm and s.effective_llm_base_url == "http://127.0.0.1:1/v1"
    assert s.effective_llm_api_key == "sk-fallback"
    monkeypatch.setenv("DEVOPS_AGENT_LLM_BASE_URL", "http://127.0.0.1:2/v1")
    assert load_settings().effective_llm_base_url == "http://127.0.0.1:2/v1"


def test_without_endpoint_the_planner_reasons():
    s = load_settings()
    assert not s.use_llm
    assert s.masked()["reasoner (effective)"] == "planner"


def test_yaml_file_is_read_and_env_wins(monkeypatch, tmp_path):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("max_steps: 9\nllm_model: from-yaml\n")
    monkeypatch.setenv("DEVOPS_AGENT_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("DEVOPS_AGENT_LLM_MODEL", "from-env")
    s = load_settings()
    assert s.max_steps == 9 and s.llm_model == "from-env"


def test_secrets_are_masked(monkeypatch):
    monkeypatch.setenv("DEVOPS_AGENT_LLM_API_KEY", "sk-very-secret")
    shown = load_settings().masked()
    assert shown["llm_api_key"] == "********"
    assert "sk-very-secret" not in str(shown)


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("DEVOPS_AGENT_MAX_STEPS", "lots")
    with pytest.raises(SettingsError, match="DEVOPS_AGENT_MAX_STEPS"):
        load_settings()


def test_database_url_is_masked_and_must_be_postgres(monkeypatch):
    monkeypatch.setenv("DEVOPS_AGENT_DATABASE_URL", "postgresql://agent:pg-very-secret@db:5432/agent")
    s = load_settings()
    assert s.database_url_value == "postgresql://agent:pg-very-secret@db:5432/agent"
    assert s.masked()["database_url"] == "********" and "pg-very-secret" not in str(s.masked())
    monkeypatch.setenv("DEVOPS_AGENT_DATABASE_URL", "mysql://agent@db/agent")
    with pytest.raises(SettingsError, match=r"postgresql:// URL.*'mysql'"):
        load_settings()
    monkeypatch.setenv("DEVOPS_AGENT_DATABASE_URL", "")
    assert load_settings().database_url_value is None  # empty: SQLite files, as when unset
