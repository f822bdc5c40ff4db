"""Runbooks against the real sandbox: real triage findings select the runbook, its diagnostics run
through the real tools without error, and its first remediation renders to arguments the tool accepts
and fixes the fault when applied (the fault's own end-state check is the judge).

Kubernetes-visible faults only (findings appear within seconds, without waiting for metrics), so the
file stays quick: selector-mismatch, image-pull, pending-pod.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from knowledge.runbooks import (
    Remediation,
    Runbook,
    TemplateContext,
    TemplateError,
    load_runbooks,
    match_runbooks,
    render_args,
)
from tools.deps import Deps
from tools.registry import default_registry

pytestmark = pytest.mark.sandbox

NS = "market-predictor"
CASES = [
    ("selector-mismatch", "ServiceNoEndpoints", "no_endpoints", "k8s_patch_service"),
    ("image-pull", "KubeContainerWaiting", "image_pull_error", "k8s_rollback"),
    ("pending-pod", "KubePodNotReady", "pods_pending", "k8s_rollback"),
]


@pytest.fixture
def deps(sandbox: Any, tmp_path: Path) -> Deps:
    return Deps(
        kubeconfig=Path(sandbox.kubeconfig),
        prometheus_url=sandbox.prometheus_url,
        loki_url=sandbox.loki_url,
        raw_dir=tmp_path / "raw",
    )


def _findings_with(deps: Deps, kind: str, timeout: float = 60) -> list[dict[str, Any]]:
    triage = default_registry().get("triage")
    assert triage is not None
    deadline = time.monotonic() + timeout
    while True:
        result = triage.invoke(deps, {"namespace": NS})
        findings = (result.data or {}).get("findings", []) if result.status != "error" else []
        if any(f["kind"] == kind for f in findings) or time.monotonic() > deadline:
            return list(findings)
        time.sleep(2)


def _quiet(deps: Deps) -> bool:
    """Triage sees nothing wrong: no pod still starting after a reset or an autoscaler move."""
    result = default_registry().get("triage").invoke(deps, {"namespace": NS})  # type: ignore[union-attr]
    if result.status != "ok":
        return False
    unsettled = {"readiness_failing", "pods_pending", "crash_loop", "no_endpoints", "image_pull_error"}
    return not unsettled & {f["kind"] for f in (result.data or {}).get("findings", [])}


def _first_remediation(
    runbooks: list[Runbook], alert: str, findings: list[dict[str, Any]]
) -> tuple[Runbook, Remediation, dict[str, Any]]:
    kinds = [f["kind"] for f in findings]
    ctx = TemplateContext.build(namespace=NS, alertname=alert, findings=findings)
    for rb in match_runbooks(runbooks, alert, {}, kinds):
        for rem in rb.applicable(kinds):
            try:
                return rb, rem, render_args(rem.args, ctx)
            except TemplateError:
                continue
    raise AssertionError(f"no remediation renders for {alert} with findings {sorted(set(kinds))}")


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("fault_name", "alert", "kind", "tool"), CASES, ids=[c[0] for c in CASES])
def test_runbook_from_real_findings_fixes_the_fault(
    sandbox: Any, deps: Deps, fault_name: str, alert: str, kind: str, tool: str
) -> None:
    registry = default_registry()
    runbooks = load_runbooks()
    sandbox.wait_until(lambda: _quiet(deps), 150, "a settled platform before the fault")
    fault = sandbox.inject(fault_name)
    try:
        findings = _findings_with(deps, kind)
        assert kind in {f["kind"] for f in findings}, f"triage never reported {kind}: {findings}"
        rb, rem, args = _first_remediation(runbooks, alert, findings)
        seen = sorted((f["kind"], f["target"], f["severity"]) for f in findings)
        assert rem.tool == tool, f"{rb.id}:{rem.id} chose {rem.tool} from {seen}"
        ctx = TemplateContext.build(namespace=NS, alertname=alert, findings=findings)
        for diag in rb.diagnostics:
            try:
                diag_args = render_args(diag.args, ctx)
            except TemplateError:
                continue  # the planner skips a diagnostic whose value this incident lacks
            result = registry.get(diag.tool).invoke(deps, diag_args)  # type: ignore[union-attr]
            assert result.status != "error", f"{rb.id} diagnostic {diag.tool}{diag_args}: {result.text}"
        action = registry.get(rem.tool)
        assert action is not None
        applied = action.invoke(deps, args, dry_run=False)
        for _ in range(3):  # controllers write the object too: a conflict says "retry", as an operator would
            if applied.status != "error" or "conflict" not in applied.text:
                break
            time.sleep(1)
            applied = action.invoke(deps, args, dry_run=False)
        assert applied.status == "ok", applied.text
        sandbox.wait_end_state(fault, timeout=90)
    finally:
        sandbox.reset()
