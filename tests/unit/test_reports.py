"""`report changes` and `report compliance` on a scripted week (tests/fakes/record_week.py), compared
with golden files in tests/fixtures/reports/.

Regenerate the golden files after an intended change of the output, then review the diff:

    UPDATE_GOLDEN=1 python -m pytest tests/unit/test_reports.py -q -p no:randomly
"""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest
import yaml
from fakes.record_week import HAND_PASSWORD, POLICY, SINCE, UNTIL, script_week
from typer.testing import CliRunner

from agent.audit import AuditLog
from agent.audit_anchor import publish_head
from agent.cli import app
from agent.reports.record import change_log
from agent.reports.sections import REGISTRY, Registry, SectionSpec, build_sections
from agent.reports.sections import SectionContext as Ctx
from tools.journal import Change

importlib.import_module("agent.cli.report_cmd")
pytestmark = pytest.mark.timeout(60)
GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "reports"
PERIOD = ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat()]
runner = CliRunner()


@pytest.fixture
def week(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    script_week(data)
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY.model_dump(mode="json", by_alias=True, exclude_none=True)))
    monkeypatch.setenv("DEVOPS_AGENT_DATA_DIR", str(data))
    monkeypatch.setenv("DEVOPS_AGENT_POLICY_FILE", str(policy))
    for name in ("DEVOPS_AGENT_JOURNAL_PATH", "DEVOPS_AGENT_AUDIT_ANCHOR_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    # the golden week has no cluster: its posture and drift sections read as not built, whatever is
    # installed (the live sections have their own tests, e.g. tests/integration/test_posture_live.py)
    for spec in REGISTRY.specs:
        monkeypatch.setitem(sys.modules, spec.module, None)  # importing it fails, as in a build without it
    return data


def _run(data: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output.replace(str(data), "DATA_DIR")


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with UPDATE_GOLDEN=1 once and review it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (UPDATE_GOLDEN=1)"


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_changes_matches_golden(week: Path, fmt: str) -> None:
    code, out = _run(week, "report", "changes", *PERIOD, "--format", fmt)
    assert code == 0, out
    _golden(f"changes.{fmt}", out)


def test_changes_tell_who_why_and_outcome(week: Path) -> None:
    code, out = _run(week, "report", "changes", *PERIOD, "--format", "json")
    assert code == 0, out
    by_tool = {c["tool"]: c for c in json.loads(out)["changes"] if c["tool"]}
    revert = by_tool["k8s_patch_configmap"]
    assert revert["approved_by"] == "alice" and revert["incident_id"] == "inc-1"
    assert revert["fields"] == ['~ /data/MAX_BATCH: "-1" -> "64"'] and revert["outcome"] == "verified"
    assert any("four minutes before the first crash" in w for w in revert["why"])
    assert any("root cause: a hand edit" in w for w in revert["why"])
    assert by_tool["k8s_scale"]["outcome"] == "undone"
    assert by_tool["k8s_scale"]["fields"] == ["~ /spec/replicas: 2 -> 6", "undo: ~ /spec/replicas: 6 -> 2"]
    assert by_tool["k8s_cordon"]["outcome"] == "failed"
    assert by_tool["k8s_rollout_restart"]["approved_by"] == "policy:auto"
    outside = [c for c in json.loads(out)["changes"] if c["origin"] == "outside"]
    assert [(c["object"], c["actor"]) for c in outside] == [
        ("ConfigMap/market-predictor/predictor-config", "kubectl-edit"),
        ("Deployment/market-predictor/predictor", "helm"),
        ("Service/market-predictor/api-gateway", "kubectl-edit"),
        ("Deployment/market-predictor/feature-store", "kubectl-edit"),
    ]
    assert "inc-0" not in out  # Sunday before the week


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_compliance_matches_golden(week: Path, fmt: str) -> None:
    code, out = _run(week, "report", "compliance", *PERIOD, "--format", fmt)
    assert code == 0, out
    _golden(f"compliance.{fmt}", out)


def test_compliance_counts_approvals_auto_and_freeze(week: Path) -> None:
    _, out = _run(week, "report", "compliance", *PERIOD, "--format", "json")
    summary = json.loads(out)["summary"]
    assert summary["audit_chain_ok"] is True
    assert summary["approvals"] == {"approved": 4, "rejected": 1, "expired": 1, "pending": 0}
    assert summary["by_approver"] == {
        "alice": {"approved": 2},
        "bob": {"rejected": 1},
        "carol": {"approved": 2},
    }
    assert summary["auto_actions"] == 1
    freeze = json.loads(out)["freeze"]
    assert [(f["object"], f["by"]) for f in freeze] == [
        ("Deployment/market-predictor/predictor", "outside: helm"),
        ("Deployment/market-predictor/predictor", "agent"),
        ("Service/market-predictor/api-gateway", "outside: kubectl-edit"),
        ("Deployment/market-predictor/feature-store", "outside: kubectl-edit"),
    ]
    assert summary["sections"] == {"posture": "unavailable", "drift": "unavailable"}


def test_compliance_out_writes_both_files(week: Path, tmp_path: Path) -> None:
    code, out = _run(week, "report", "compliance", *PERIOD, "--out", str(tmp_path / "out"))
    assert code == 0, out
    md = (tmp_path / "out" / "compliance.md").read_text()
    assert md.startswith("# Compliance report 2026-11-23 00:00:00")
    assert json.loads((tmp_path / "out" / "compliance.json").read_text())["report"] == "compliance"


def test_a_literal_password_never_reaches_a_report(week: Path, tmp_path: Path) -> None:
    outputs = [_run(week, "report", "changes", *PERIOD, "--format", fmt)[1] for fmt in ("md", "json")] + [
        _run(week, "report", "compliance", *PERIOD, "--format", fmt)[1] for fmt in ("md", "json")
    ]
    assert "/spec/template/spec/containers/0/env/0/value" in outputs[0]  # the hand edit is shown ...
    for text in outputs:  # ... as hashes, never the value
        assert HAND_PASSWORD not in text and "from-vault" not in text


def _tamper(data: Path) -> int:
    """bob's rejection rewritten as mallory's; returns the row's id."""
    with sqlite3.connect(data / "audit.sqlite") as db:
        db.execute("DROP TRIGGER audit_no_update")
        (row_id,) = db.execute(
            "SELECT id FROM audit WHERE kind = 'approval_decided' AND actor = 'bob'"
        ).fetchone()
        db.execute("UPDATE audit SET actor = 'mallory' WHERE id = ?", (row_id,))
    return int(row_id)


def test_tampered_chain_fails_the_compliance_report(week: Path) -> None:
    row_id = _tamper(week)
    code, out = _run(week, "report", "compliance", *PERIOD)
    assert code == 1
    assert f"| audit chain | **FAILED** at row {row_id}: row {row_id} (approval_decided" in out
    code, out = _run(week, "report", "compliance", *PERIOD, "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["summary"]["audit_chain_ok"] is False
    assert report["chain"]["first_bad_id"] == row_id and "was altered" in report["chain"]["problem"]


def test_anchored_heads_are_checked(week: Path) -> None:
    publish_head(AuditLog(week / "audit.sqlite"), week / "audit-anchors.jsonl")
    code, out = _run(week, "report", "compliance", *PERIOD, "--format", "json")
    assert code == 0 and "1 published heads" in json.loads(out)["anchors"]


def test_sections_from_the_registry(tmp_path: Path) -> None:
    registry = Registry(
        [
            SectionSpec("fake", "Fake", "fakes.report_section"),
            SectionSpec("broken", "Broken", "fakes.report_section", attr="broken_section"),
            SectionSpec("absent", "Absent", "agent.reports.no_such_section"),
        ]
    )
    got = {s.name: s for s in build_sections(Ctx(SINCE, UNTIL, POLICY), registry)}
    assert got["fake"].status == "ok" and got["fake"].lines == ["2026-11-23 → 2026-11-30: all good"]
    assert got["broken"].status == "error" and "RuntimeError: posture store locked" in got["broken"].headline
    assert got["absent"].status == "unavailable" and got["absent"].headline == "not available in this build"


def test_an_unaudited_write_by_the_agents_field_manager_is_flagged() -> None:
    ghost = Change(kind="ConfigMap", namespace="ns", name="x", time=SINCE, actor="devops-agent", diff=[])
    (entry,) = change_log([], [ghost], SINCE, UNTIL)
    assert entry.origin == "outside" and "no audit row records it" in entry.outcome_detail
