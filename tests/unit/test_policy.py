from __future__ import annotations

from pathlib import Path

import pytest

from agent.policy import PolicyError, default_policy, load_policy


def test_default_policy_waits_for_humans() -> None:
    p = default_policy()
    assert p.autonomy_for(None, "anything") == "approve"
    assert "kube-system" in p.guardrails.protected_namespaces


def test_none_path_is_default() -> None:
    assert load_policy(None) == default_policy()


def test_valid_file(tmp_path: Path) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(
        "default_autonomy: suggest\n"
        "clusters:\n  - context: prod-*\n    autonomy: approve\n    namespaces:\n"
        "      - {match: staging, autonomy: auto}\n"
        "guardrails:\n  approvers: [alice]\n"
    )
    p = load_policy(f)
    assert p.autonomy_for("prod-eu", "staging") == "auto"
    assert p.autonomy_for("prod-eu", "web") == "approve"
    assert p.autonomy_for("dev", "staging") == "suggest"
    assert p.may_approve("alice") and not p.may_approve("mallory")


@pytest.mark.parametrize(
    "body,needle",
    [
        ("default_autonomy: yolo\n", "default_autonomy"),
        ("guardrails:\n  replicas: {min: 5, max: 2}\n", "guardrails.replicas"),
        ("guardrails:\n  cooldown_s: -1\n", "guardrails.cooldown_s"),
        ("guardrails:\n  unknown_knob: 1\n", "guardrails.unknown_knob"),
        ("guardrails:\n  freeze_windows: [{reason: x}]\n", "guardrails.freeze_windows.0"),
        ("- a list\n", "mapping"),
        ("key: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_file_names_field_and_reason(tmp_path: Path, body: str, needle: str) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(body)
    with pytest.raises(PolicyError) as exc:
        load_policy(f)
    assert str(f) in str(exc.value) and needle in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "nope.yaml")
