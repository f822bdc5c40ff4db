"""Redaction: secrets never reach the model, the audit log or a chat."""

from __future__ import annotations

import pytest

from tools.redact import MASK, redact_obj, redact_text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abcdefghijklmnop123", "abcdefghijklmnop123"),
        ('curl -H "Authorization: Basic dXNlcjpwYXNz" http://x', "dXNlcjpwYXNz"),
        ("calling with bearer eyJabc.def-123456789", "eyJabc.def-123456789"),
        ("postgres://app:s3cr3t@db:5432/features", "s3cr3t"),
        ("DB_PASSWORD=hunter2 LOG_LEVEL=info", "hunter2"),
        ('{"api_key": "abc123xyz", "x": 1}', "abc123xyz"),
        ("client_secret: 'q1w2e3r4'", "q1w2e3r4"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3In0.c2lnbmF0dXJl", "eyJhbGciOiJIUzI1NiJ9"),
        ("aws key AKIAABCDEFGHIJKLMNOP in use", "AKIAABCDEFGHIJKLMNOP"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
            "MIIEpAIBAAKCAQEA",
        ),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123 leaked", "ghp_abcdefghijklmnopqrstuvwxyz0123"),
    ],
)
def test_secret_values_are_masked(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert MASK in out


def test_ordinary_text_is_untouched() -> None:
    text = "GET /predict 200 12ms cache key miss for user 42; replicas=3 image=api:1.4"
    assert redact_text(text) == text


def test_redaction_is_idempotent() -> None:
    text = "Authorization: Bearer abcdefghijk password=x url=https://u:p@h/"
    assert redact_text(redact_text(text)) == redact_text(text)


def test_secret_object_keeps_keys_masks_values() -> None:
    secret = {
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": {"password": "aHVudGVyMg==", "user": "YXBw"},
    }
    out = redact_obj(secret)
    assert out["data"] == {"password": MASK, "user": MASK}
    assert secret["data"]["password"] == "aHVudGVyMg=="  # input untouched


def test_env_values_with_secret_names_are_masked() -> None:
    env = [{"name": "FEATURE_STORE_PASSWORD", "value": "hunter2"}, {"name": "LOG_LEVEL", "value": "info"},
           {"name": "API_TOKEN", "value": "t0k"}, {"name": "CACHE_KEY", "value": "k"}]  # fmt: skip
    out = redact_obj({"env": env})["env"]
    assert [e["value"] for e in out] == [MASK, "info", MASK, MASK]


def test_nested_keys_and_strings_are_redacted() -> None:
    out = redact_obj(
        {"config": {"db_password": "x", "url": "redis://:pw@cache:6379"}, "items": ["Bearer abcdefghijkl"]}
    )
    assert out["config"]["db_password"] == MASK
    assert "pw@" not in out["config"]["url"]
    assert "abcdefghijkl" not in out["items"][0]


def test_references_to_secrets_are_not_values() -> None:
    env = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "password"}}},
           {"name": "WORKERS", "valueFrom": {"configMapKeyRef": {"name": "predictor-config", "key": "WORKERS"}}}]  # fmt: skip
    assert redact_obj(env) == env
    text = "secretKeyRef:\n  name: db-credentials\n  key: password\ntolerations:\n- key: node.kubernetes.io/not-ready"
    assert redact_text(text) == text
