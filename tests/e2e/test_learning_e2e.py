"""Learning, end to end: the same fault twice on the real sandbox; the second time takes fewer tool calls.

bad-deploy on predictor → its real ServiceHighErrorRate alert → the offline planner investigates
(triage, the runbook's diagnostics, the rollback, verify) → learn stores the incident and counts the
verified fix. The fault is injected again: recall brings the first incident back, the planner goes
straight to the fix that worked for this exact signature, and the run needs fewer tool calls.
Counts, not durations, are compared.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sandbox_fixture import Sandbox

from agent.approvals import ApprovalDecision
from agent.runner import RunEvent, Runner, RunOutcome
from agent.settings import Settings
from evals.harness import firing_alerts

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(1500)]

NAMESPACE = "market-predictor"
POLICY = """
version: 1
default_autonomy: auto
guardrails:
  cooldown_s: 0
"""


def _settings(sandbox: Sandbox, data_dir: Path) -> Settings:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "policy.yaml").write_text(POLICY)
    return Settings(
        data_dir=data_dir,
        kubeconfig=Path(sandbox.kubeconfig),
        prometheus_url=sandbox.prometheus_url,
        loki_url=sandbox.loki_url,
        alertmanager_url=sandbox.alertmanager_url,
        default_namespace=NAMESPACE,
        policy_file=data_dir / "policy.yaml",
        reasoner="planner",
        verify_interval_s=5.0,
    )


def _quiet(sandbox: Sandbox) -> None:
    sandbox.reset()
    sandbox.wait_until(
        lambda: (
            not [
                a
                for a in firing_alerts(sandbox.prometheus_url)
                if a["labels"].get("alertname") == "ServiceHighErrorRate"
            ]
        ),
        300,
        "ServiceHighErrorRate from an earlier fault to resolve",
        3,
    )


def _handle(sandbox: Sandbox, runner: Runner) -> tuple[RunOutcome, list[str]]:
    """Inject bad-deploy, wait for its alert, run the agent on it (approving if asked); the tools it called."""
    injected = time.time()
    fault = sandbox.inject("bad-deploy", "predictor")
    alert = sandbox.wait_for_alert("ServiceHighErrorRate", timeout=240, since=injected, service="predictor")
    calls: list[str] = []

    def on_event(e: RunEvent) -> None:
        # what the agent chose to call; verify's polling depends on timing, dry runs double the action
        if e.kind == "tool_started" and e.data.get("purpose") not in ("verify", "dry_run"):
            calls.append(str(e.data.get("tool")))

    out = runner.investigate(alert=alert, on_event=on_event)
    for _ in range(5):
        if out.status != "awaiting_approval":
            break
        req = out.approvals[0]
        decision = ApprovalDecision(approval_id=req["id"], decision="approve", approver="e2e-oncall")
        out = runner.resume(req["id"], decision, on_event=on_event)
    sandbox.wait_end_state(fault, timeout=180)
    return out, calls


def _applied(out: RunOutcome) -> list[dict[str, Any]]:
    return [a for a in out.actions if a.get("status") == "applied"]


def test_the_same_fault_is_resolved_with_fewer_tool_calls_the_second_time(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = _settings(sandbox, tmp_path / "agent")
    try:
        _quiet(sandbox)
        with Runner(settings) as runner:
            first, first_calls = _handle(sandbox, runner)
        assert first.status == "resolved", first.summary
        assert [a["tool"] for a in _applied(first)] == ["k8s_rollback"]

        _quiet(sandbox)
        with Runner(settings) as runner:  # a new process would see the same: memory and stats are on disk
            second, second_calls = _handle(sandbox, runner)
            recalled = runner.state(second.incident_id).get("recalled") or []
        assert second.status == "resolved", second.summary
        assert [a["tool"] for a in _applied(second)] == ["k8s_rollback"]
        assert first.incident_id in [r["id"] for r in recalled]
        assert len(second_calls) < len(first_calls), f"first: {first_calls}\nsecond: {second_calls}"
    finally:
        sandbox.reset(wait=False)
