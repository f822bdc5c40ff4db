"""Draft runbooks from a resolved incident: they parse as runbooks, say what matched, what was read and
what fixed it, and are never loaded as live runbooks; `report runbook` and the learn node write them."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.audit import AuditLog
from agent.cli import app
from agent.nodes.learn import draft_runbook_if_new
from agent.reports.runbook_draft import DraftError, draft_runbook, write_draft
from knowledge.records import ActionOutcome, IncidentRecord
from knowledge.runbooks import load_runbooks, parse_runbook

importlib.import_module("agent.cli.report_cmd")
pytestmark = pytest.mark.timeout(60)
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
NS = "payments"


def _record(**kw: Any) -> IncidentRecord:
    actions = [
        ActionOutcome(tool="k8s_scale", args={"deployment": "ledger", "namespace": NS, "replicas": 6},
                      outcome="no_effect", note="queue depth unchanged"),
        ActionOutcome(tool="k8s_rollout_restart", args={"deployment": "ledger", "namespace": NS},
                      outcome="fixed", approved_by="alice", note="consumer lag back to 0 within 2 min"),
    ]  # fmt: skip
    base: dict[str, Any] = {
        "id": "inc-7f3a",
        "title": "ledger consumer stalled",
        "started_at": T0,
        "service": "ledger",
        "namespace": NS,
        "alertname": "LedgerConsumerLag",
        "symptoms": ["consumer lag 40k messages and rising"],
        "root_cause": "the consumer lost its broker session and never reconnected",
        "actions": actions,
        "signature": "alert=LedgerConsumerLag|findings=queue_backlog,not_a_kind|service=ledger",
    }
    return IncidentRecord(**{**base, **kw})


def _audit(tmp_path: Path) -> AuditLog:
    audit = AuditLog(tmp_path / "audit.sqlite")
    for tool, args, summary in [
        ("k8s_list", {"kind": "pods", "namespace": NS}, "3 pods Running, 0 restarts"),
        ("k8s_pod_logs", {"pod": "deployment/ledger", "namespace": NS}, "broker session expired"),
        ("prometheus_query", {"query": 'sum(lag{job="ledger"})'}, "lag 40213"),
        ("k8s_list", {"kind": "pods", "namespace": NS}, "again"),
    ]:
        data = {
            "tool": tool,
            "args": args,
            "status": "ok",
            "purpose": "read",
            "dry_run": False,
            "summary": summary,
        }
        audit.append("tool_call", incident_id="inc-7f3a", data=data, at=T0)
    audit.append("tool_call", incident_id="other", data={"tool": "k8s_events", "purpose": "read"}, at=T0)
    return audit


def test_draft_parses_and_comes_from_the_record(tmp_path: Path) -> None:
    audit = _audit(tmp_path)
    rid, text = draft_runbook(_record(), audit.rows(incident_id="inc-7f3a"))
    rb = parse_runbook(text, "draft")
    assert rid == rb.id and rb.id.startswith("draft-") and rb.draft
    assert rb.match.alerts == ["LedgerConsumerLag"] and rb.match.findings == ["queue_backlog"]
    assert [d.tool for d in rb.diagnostics] == ["k8s_list", "k8s_pod_logs", "prometheus_query"]
    assert rb.diagnostics[0].args == {"kind": "pods", "namespace": "{namespace}"}
    assert rb.diagnostics[1].args["pod"] == "deployment/{service}"
    assert rb.diagnostics[2].args["query"] == 'sum(lag{job="ledger"})'  # PromQL braces kept
    assert "broker session expired" in rb.diagnostics[1].why
    (fix,) = rb.remediations  # the scale-up did nothing: not a remediation
    assert fix.tool == "k8s_rollout_restart" and fix.args == {
        "deployment": "{service}",
        "namespace": "{namespace}",
    }
    assert fix.requires == ["queue_backlog"] and "consumer lag back to 0" in fix.expected
    assert "k8s_scale" in rb.body and "no_effect" in rb.body and "never reconnected" in rb.body


def test_a_fix_that_needed_a_first_step_keeps_the_order(tmp_path: Path) -> None:
    first = ActionOutcome(tool="k8s_patch_configmap", args={"name": "c", "namespace": NS}, outcome="pending")
    fixed = ActionOutcome(
        tool="k8s_rollout_restart", args={"deployment": "ledger", "namespace": NS}, outcome="fixed"
    )
    _, text = draft_runbook(_record(actions=[first, fixed]), [])
    rb = parse_runbook(text, "draft")
    assert [r.id for r in rb.remediations] == ["k8s-patch-configmap", "k8s-rollout-restart"]
    assert rb.remediations[1].after == ["k8s-patch-configmap"]


def test_no_draft_without_a_verified_fix() -> None:
    failed = ActionOutcome(tool="k8s_scale", args={}, outcome="worse")
    with pytest.raises(DraftError, match=r"no verified fix .*worse"):
        draft_runbook(_record(actions=[failed]), [])


def test_drafts_are_never_loaded_as_runbooks(tmp_path: Path) -> None:
    live = tmp_path / "runbooks"
    path = write_draft(_record(), [], live / "drafts")
    assert path.parent == live / "drafts"
    (live / "copied-draft.md").write_text(path.read_text())  # a draft copied next to live ones, unreviewed
    ids = {rb.id for rb in load_runbooks([live])}
    assert not any(i.startswith("draft-") for i in ids) and "crashloop-config-revert" in ids
    reviewed = path.read_text().replace("draft: true\n", "").replace("id: draft-", "id: reviewed-")
    (live / "reviewed.md").write_text(reviewed)
    assert any(rb.id.startswith("reviewed-") for rb in load_runbooks([live]))


def test_add_runbook_refuses_a_draft(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    importlib.import_module("agent.cli.knowledge_cmd")
    monkeypatch.setenv("DEVOPS_AGENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    path = write_draft(_record(), [], tmp_path / "drafts")
    result = CliRunner().invoke(app, ["knowledge", "add-runbook", str(path)])
    assert result.exit_code == 1 and "is a draft" in " ".join(result.output.split())
    assert not (tmp_path / "data" / "runbooks" / path.name).exists()


def _runtime(tmp_path: Path, audit: AuditLog, runbooks: list[Any], enabled: bool = True) -> Any:
    settings = SimpleNamespace(runbook_drafts=enabled, effective_runbook_drafts_dir=tmp_path / "drafts")
    return SimpleNamespace(context=SimpleNamespace(settings=settings, runbooks=runbooks, audit=audit))


def _state(**kw: Any) -> dict[str, Any]:
    incident = {"id": "inc-7f3a", "title": "ledger consumer stalled", "alertname": "LedgerConsumerLag",
                "namespace": NS, "service": "ledger", "source": "alertmanager", "started_at": T0.isoformat()}  # fmt: skip
    action = {
        "tool": "k8s_rollout_restart",
        "args": {"deployment": "ledger", "namespace": NS},
        "outcome": "fixed",
    }
    return {"incident": incident, "status": "resolved", "actions": [action], "findings": [], **kw}


def test_learn_writes_a_draft_when_no_runbook_matched(tmp_path: Path) -> None:
    audit = _audit(tmp_path)
    note = draft_runbook_if_new(_state(), _runtime(tmp_path, audit, []), _record())
    assert note and "draft runbook written" in note
    (path,) = (tmp_path / "drafts").glob("*.md")
    assert parse_runbook(path.read_text(), str(path)).diagnostics[0].tool == "k8s_list"


def test_learn_writes_no_draft_when_a_runbook_matched_or_not_resolved(tmp_path: Path) -> None:
    audit = _audit(tmp_path)
    matching = parse_runbook(draft_runbook(_record(), [])[1].replace("draft: true\n", ""), "live")
    assert draft_runbook_if_new(_state(), _runtime(tmp_path, audit, [matching]), _record()) is None
    assert draft_runbook_if_new(_state(status="escalated"), _runtime(tmp_path, audit, []), _record()) is None
    assert draft_runbook_if_new(_state(), _runtime(tmp_path, audit, [], enabled=False), _record()) is None
    assert not (tmp_path / "drafts").exists()


def test_report_runbook_from_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.cli.knowledge_cmd import _memory
    from agent.settings import load_settings

    monkeypatch.setenv("DEVOPS_AGENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEVOPS_AGENT_EMBEDDING", "hashing")
    monkeypatch.delenv("DEVOPS_AGENT_CHROMA_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    _audit(tmp_path / "data")
    _memory(load_settings()).remember(_record())
    result = CliRunner().invoke(app, ["report", "runbook", "inc-7f3a"])
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "data" / "runbooks" / "drafts").glob("draft-*.md")
    assert parse_runbook(path.read_text(), str(path)).remediations[0].tool == "k8s_rollout_restart"
    result = CliRunner().invoke(app, ["report", "runbook", "inc-nope"])
    assert result.exit_code == 1 and "not in memory" in result.output


def test_draft_matches_golden(tmp_path: Path) -> None:
    """The whole draft, against tests/fixtures/reports/draft-runbook.md (UPDATE_GOLDEN=1 rewrites it)."""
    from test_reports import _golden

    _golden("draft-runbook.md", draft_runbook(_record(), _audit(tmp_path).rows(incident_id="inc-7f3a"))[1])
