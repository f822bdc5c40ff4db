"""`devops-agent drift` against the seeded platform: text and JSON, one namespace, adopt, and a sync
that waits for a human unless --yes."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from drift_world import NS, Platform, plat_fixture  # noqa: F401
from typer.testing import CliRunner

from agent.cli import app

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(plat: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    env = {
        "DEVOPS_AGENT_DATA_DIR": str(tmp_path / "data"),
        "DEVOPS_AGENT_KUBECONFIG": str(plat.kubeconfig),
        "DEVOPS_AGENT_DESIRED_STATE": str(plat.manifests),
        "DEVOPS_AGENT_DEFAULT_NAMESPACE": NS,
        "DEVOPS_AGENT_POLICY_FILE": str(ROOT / "policy.example.yaml"),
        "COLUMNS": "250",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return CliRunner()


def test_drift_text_json_and_adopt(plat: Platform, cli: CliRunner, tmp_path: Path) -> None:
    clean = cli.invoke(app, ["drift"])
    assert clean.exit_code == 0, clean.output
    assert "no drift: 40 objects match" in " ".join(clean.output.split())
    plat.edit(f"/api/v1/namespaces/{NS}/configmaps/predictor-config", {"data": {"WORKERS": "16"}})
    text = cli.invoke(app, ["drift", "-n", NS])
    shown = " ".join(text.output.split())  # the console wraps at its width, which another test may have set
    assert "1 of 21 objects drifted" in shown and "/data/WORKERS: live '16' -> desired '4'" in shown
    assert "devops-agent drift --sync ConfigMap/predictor-config -n market-predictor" in shown
    out = json.loads(cli.invoke(app, ["drift", "--json", "-n", f"{NS}-staging"]).output)
    assert out["checked"] == 19 and out["drifted"] == []
    adopted = cli.invoke(app, ["drift", "--adopt", "--json"])
    patch = json.loads(adopted.output)["adopted"][f"ConfigMap/{NS}/predictor-config"]
    assert Path(patch) == tmp_path / "data" / "drift" / "adopt" / f"configmap-{NS}-predictor-config.patch"
    assert "+  WORKERS: '16'" in Path(patch).read_text()


def test_sync_needs_approval_then_yes_applies(plat: Platform, cli: CliRunner) -> None:
    plat.edit(f"/api/v1/namespaces/{NS}/configmaps/predictor-config", {"data": {"WORKERS": "16"}})
    waiting = cli.invoke(app, ["drift", "--sync", "ConfigMap/predictor-config", "-n", NS])
    assert waiting.exit_code == 1 and "needs_approval" in waiting.output and "--yes" in waiting.output
    assert plat.store.get("configmaps", NS, "predictor-config")["data"]["WORKERS"] == "16"
    done = cli.invoke(app, ["drift", "--sync", "ConfigMap/predictor-config", "-n", NS, "--yes"])
    assert done.exit_code == 0 and done.output.startswith("applied"), done.output
    assert plat.store.get("configmaps", NS, "predictor-config")["data"]["WORKERS"] == "4"
    bad = cli.invoke(app, ["drift", "--sync", "predictor-config"])
    assert bad.exit_code == 1 and "KIND/NAME" in bad.output


def test_the_compliance_report_lists_the_drift(plat: Platform, cli: CliRunner, tmp_path: Path) -> None:
    from agent.audit import AuditLog

    importlib.import_module("agent.cli.report_cmd")
    (tmp_path / "data").mkdir(exist_ok=True)
    AuditLog(tmp_path / "data" / "audit.sqlite").append(
        "run_started", incident_id="inc-1", data={"question": "?"}
    )
    plat.edit(f"/api/v1/namespaces/{NS}/configmaps/predictor-config", {"data": {"WORKERS": "16"}})
    out = cli.invoke(app, ["report", "compliance", "--format", "json"])
    assert out.output.strip().startswith("{"), out.output
    sections = {s["name"]: s for s in json.loads(out.output)["sections"]}
    drift = sections["drift"]
    assert drift["status"] == "attention" and drift["data"]["drifted"] == 1, drift
    assert any(
        "ConfigMap market-predictor/predictor-config" in line and "/data/WORKERS" in line
        for line in drift["lines"]
    )
    assert sections["posture"]["status"] in ("ok", "attention"), sections["posture"]  # the live checks ran
