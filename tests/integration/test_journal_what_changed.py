"""`what_changed` and `devops-agent changes` after kubectl edits against the stand-in; a Secret's
value is never stored in the journal file nor shown by the tool, the CLI or its JSON; without a
journal the answer comes from last-applied-configuration and managedFields."""

from __future__ import annotations

import base64
import importlib
import json
from pathlib import Path

import pytest
from journal_helpers import Journal, wait_for
from kube_fixtures import NS, World, needs_kubectl, world_fixture  # noqa: F401
from typer.testing import CliRunner

from agent.cli import app
from tools.deps import Deps
from tools.journal.tool import what_changed

importlib.import_module("agent.cli.journal_cmd")
pytestmark = [pytest.mark.timeout(90), needs_kubectl]

SECRET_VALUE = "Hunter2-very-private-value"
ENV_PASSWORD = "db-pass-Zq81xx"
runner = CliRunner()

MANIFEST = f"""
apiVersion: v1
kind: Secret
metadata: {{name: db-credentials, namespace: {NS}}}
stringData: {{password: {SECRET_VALUE}}}
---
apiVersion: v1
kind: Service
metadata: {{name: shop, namespace: {NS}}}
spec:
  selector: {{app: api}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: shop, namespace: {NS}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: shop}}}}
  template:
    metadata: {{labels: {{app: shop}}}}
    spec:
      containers:
      - name: shop
        image: shop:v1
        env: [{{name: DB_PASSWORD, value: {ENV_PASSWORD}}}, {{name: MODE, value: fast}}]
"""


def _cli(world: World, data_dir: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("DEVOPS_AGENT_KUBECONFIG", str(world.kubeconfig))
    monkeypatch.setenv("DEVOPS_AGENT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("COLUMNS", "300")
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _secret_forms() -> list[str]:
    return [SECRET_VALUE, base64.b64encode(SECRET_VALUE.encode()).decode(), ENV_PASSWORD]


def test_kubectl_edits_show_as_field_diffs_with_actor_and_no_secret_anywhere(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    journal = Journal(world.kubeconfig, data_dir / "journal.sqlite")
    journal.start()
    world.kubectl("apply", "-f", "-", stdin=MANIFEST)
    world.kubectl(
        "-n", NS, "patch", "svc", "shop", "-p", '{"spec":{"ports":[{"port":80,"targetPort":9090}]}}'
    )
    new_secret = base64.b64encode(b"another-Secret-value").decode()
    world.kubectl(
        "-n", NS, "patch", "secret", "db-credentials", "-p", json.dumps({"data": {"password": new_secret}})
    )
    world.kubectl("-n", NS, "scale", "deploy", "shop", "--replicas=0")
    assert wait_for(lambda: len(journal.changes_of("Deployment", "shop")) == 2), [
        (c.event, c.actor, [d.as_dict() for d in c.diff][:3])
        for c in journal.changes_of("Deployment", "shop")
    ]
    assert wait_for(lambda: len(journal.changes_of("Secret", "db-credentials")) == 2), journal.status
    assert wait_for(lambda: len(journal.changes_of("Service", "shop")) == 2), journal.status
    journal.stop()
    journal.store.close()

    deps = Deps(
        kubeconfig=world.kubeconfig, journal_path=data_dir / "journal.sqlite", raw_dir=tmp_path / "raw"
    )
    result = what_changed.invoke(deps, {"namespace": NS, "since": "10m"})
    assert result.status == "ok", result.text
    assert "~ /spec/ports/0/targetPort: 8080 -> 9090" in result.text
    assert "~ /spec/replicas: 2 -> 0" in result.text
    assert "Service market-predictor/shop by kubectl-patch (Update) [journal]" in result.text
    assert "by kubectl-scale" in result.text or "by kubectl (" in result.text  # the scale subresource writer
    secret_line = next(line for line in result.text.splitlines() if "/data/password" in line)
    assert secret_line.startswith("  ~ ") and "sha256:" in secret_line  # a change of the value's hash

    only = what_changed.invoke(deps, {"namespace": NS, "since": "10m", "object": "svc/shop"})
    assert {c["name"] for c in only.data["changes"]} == {"shop"} and {
        c["kind"] for c in only.data["changes"]
    } == {"Service"}

    code, text = _cli(world, data_dir, monkeypatch, "changes", "-n", NS, "--since", "10m")
    assert code == 0, text
    assert "/spec/ports/0/targetPort: 8080 -> 9090" in text
    code, raw_json = _cli(world, data_dir, monkeypatch, "changes", "-n", NS, "--since", "10m", "--json")
    assert code == 0, raw_json
    entries = json.loads(raw_json)
    svc = next(
        e for e in entries if e["kind"] == "Service" and e["name"] == "shop" and e["event"] == "modified"
    )
    assert svc["diff"] == [{"path": "/spec/ports/0/targetPort", "op": "replace", "old": 8080, "new": 9090}]

    stored = b"".join(p.read_bytes() for p in data_dir.glob("journal.sqlite*"))
    shown = [result.text, json.dumps(result.data), text, raw_json, only.text]
    for secret in [*_secret_forms(), new_secret, "another-Secret-value"]:
        assert secret.encode() not in stored, secret
        assert all(secret not in out for out in shown), secret


def test_without_a_journal_hand_edits_come_from_last_applied_and_managed_fields(
    world: World, tmp_path: Path
) -> None:
    world.kubectl("apply", "-f", "-", stdin=MANIFEST)
    world.kubectl(
        "-n", NS, "patch", "svc", "shop", "-p", '{"spec":{"ports":[{"port":80,"targetPort":9090}]}}'
    )
    deps = Deps(kubeconfig=world.kubeconfig, journal_path=tmp_path / "none.sqlite", raw_dir=tmp_path / "raw")
    result = what_changed.invoke(deps, {"namespace": NS, "since": "10m"})
    assert result.status == "ok", result.text
    svc = next(c for c in result.data["changes"] if c["kind"] == "Service" and c["name"] == "shop")
    assert svc["source"] == "last-applied" and svc["actor"] == "kubectl-patch"
    assert svc["diff"] == [{"path": "/spec/ports/0/targetPort", "op": "replace", "old": 8080, "new": 9090}]
    assert "[last-applied]" in result.text
    assert not (tmp_path / "none.sqlite").exists()  # reading never creates a journal
    for secret in _secret_forms():  # the Secret's last-applied annotation holds its value: never shown
        assert secret not in result.text and secret not in json.dumps(result.data)
