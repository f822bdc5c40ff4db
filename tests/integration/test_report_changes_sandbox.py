"""`report changes` on a real record: the journal watching the Kubernetes API stand-in, an agent change
made by the real k8s_scale tool (field manager devops-agent) with its audit row, and a kubectl hand edit.
The agent's change gets its field diff from the journal; the hand edit is listed as made outside."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from journal_helpers import Journal
from kube_fixtures import NS, World, needs_kubectl, world_fixture  # noqa: F401
from typer.testing import CliRunner

from agent.audit import AuditLog
from agent.cli import app
from tools.deps import Deps
from tools.registry import default_registry

importlib.import_module("agent.cli.report_cmd")
pytestmark = [pytest.mark.timeout(90), needs_kubectl]


def test_agent_change_and_hand_edit_in_the_change_log(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    journal = Journal(world.kubeconfig, data / "journal.sqlite")
    journal.start()
    start = datetime.now(UTC) - timedelta(seconds=1)
    world.kubectl("-n", NS, "patch", "svc", "api", "-p", '{"spec":{"ports":[{"port":80,"targetPort":9090}]}}')
    audit = AuditLog(data / "audit.sqlite")
    args = {"deployment": "api", "namespace": NS, "replicas": 3}
    audit.append("run_started", incident_id="inc-1", data={"title": "api saturated", "namespace": NS})
    result = default_registry().get("k8s_scale").invoke(Deps(kubeconfig=world.kubeconfig), args)
    assert result.status == "ok" and result.effect is not None, result.text
    audit.append(
        "action_applied",
        incident_id="inc-1",
        actor="alice",
        data={"tool": "k8s_scale", "args": args, "effect": result.effect.model_dump(mode="json")},
    )
    audit.append(
        "verify", incident_id="inc-1", data={"tool": "k8s_scale", "outcome": "fixed", "detail": "p99 ok"}
    )
    journal.settle(NS)
    journal.stop()
    journal.store.close()

    monkeypatch.setenv("DEVOPS_AGENT_DATA_DIR", str(data))
    monkeypatch.delenv("DEVOPS_AGENT_JOURNAL_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    until = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    out = CliRunner().invoke(
        app, ["report", "changes", "--since", start.isoformat(), "--until", until, "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    changes = [
        c for c in json.loads(out.output)["changes"] if c["object"] != f"ConfigMap/{NS}/journal-marker"
    ]
    by_object = {(c["object"], c["origin"]): c for c in changes}
    scale = by_object[(f"Deployment/{NS}/api", "agent")]
    # (the seed bypassed the API's defaulting, so the first write also adds defaulted fields)
    assert "~ /spec/replicas: 2 -> 3" in scale["fields"] and scale["actor"] == "devops-agent"
    assert scale["approved_by"] == "alice" and scale["outcome"] == "verified"
    edit = by_object[(f"Service/{NS}/api", "outside")]
    assert "~ /spec/ports/0/targetPort: 8080 -> 9090" in edit["fields"] and edit["actor"] == "kubectl-patch"
    assert len(changes) == 2, changes  # the scale is not listed a second time as an outside change
