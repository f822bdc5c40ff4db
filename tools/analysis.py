"""``triage``: every deterministic analyzer over a namespace — findings, not conclusions.

Workload analyzers read Kubernetes (crash loops, OOM kills, image pulls, pending pods, stuck and
recent rollouts, config changes, endpoints, readiness, HPAs, nodes); signal analyzers read
Prometheus (error rate, latency, CPU, DB connections, cache, queue, upstream failures) and Loki
(auth and connection errors in logs). A missing Prometheus or Loki is noted, not fatal.
"""

from __future__ import annotations

from datetime import UTC

from tools.analyzers.drift import drift_findings
from tools.analyzers.signals import analyze_signals
from tools.analyzers.snapshot import Snapshot, take_snapshot
from tools.analyzers.suspects import (
    HISTORY,
    FailingPath,
    failing_path,
    focus_services,
    parse_onset,
    suspect_findings,
)
from tools.analyzers.workloads import analyze_workloads
from tools.base import ToolDeps, ToolResult, tool
from tools.budget import shaped
from tools.errors import ToolError, expected_errors
from tools.findings import SEVERITY_ORDER, Finding, FindingKind
from tools.kubernetes.client import Kube
from tools.kubernetes.common import Context

__all__ = ["Finding", "FindingKind", "correlate", "rank", "triage"]


def _related(f: Finding, service: str | None) -> bool:
    if not service:
        return False
    values = {str(v) for k, v in f.data.items() if k in ("deployment", "service", "upstream", "consumer")}
    return service in values or f.target.endswith(f"/{service}")


CHANGE_KINDS = ("recent_rollout", "config_changed", "suspect_change", "drifted_from_desired")


def correlate(findings: list[Finding]) -> list[Finding]:
    """A change followed by symptoms on the same workload is raised to a warning and says so."""
    troubled: dict[str, set[str]] = {}
    for f in findings:
        if f.kind not in CHANGE_KINDS and f.severity != "info":
            for key in ("deployment", "service"):
                if f.data.get(key):
                    troubled.setdefault(str(f.data[key]), set()).add(f.kind)
    out = []
    for f in findings:
        symptoms = troubled.get(str(f.data.get("deployment") or ""), set())
        if f.kind in CHANGE_KINDS and symptoms:
            f = f.model_copy(
                update={
                    "severity": "warning" if f.severity == "info" else f.severity,
                    "summary": f"{f.summary}; followed by {', '.join(sorted(symptoms))}",
                }
            )
        out.append(f)
    return out


def rank(findings: list[Finding], service: str | None = None) -> list[Finding]:
    """Deduplicated by (kind, target); the service's own symptoms first, then by severity, changes newest first."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for f in findings:
        if (f.kind, f.target) not in seen:
            seen.add((f.kind, f.target))
            unique.append(f)
    return sorted(unique, key=lambda f: (_tier(f, service), SEVERITY_ORDER[f.severity], _newest_first(f)))


def _tier(f: Finding, service: str | None) -> int:
    """0 for the service's own symptoms. Changes are never promoted by name: the change to blame is
    the newest one followed by symptoms, and that may be an upstream's rollout, not the service's."""
    return 0 if f.kind not in CHANGE_KINDS and _related(f, service) else 1


def _newest_first(f: Finding) -> str:
    when = str(f.data.get("changed_at") or "") if f.kind in CHANGE_KINDS else ""
    return "".join(chr(0x10FFFF - ord(c)) for c in when)  # descending order of an ISO timestamp


def _callers(findings: list[Finding], focus: list[str]) -> list[str]:
    """Workloads whose calls into the focus services fail: the same fault reaches them (their alerts
    belong to it), though their own objects are not where it started."""
    out = {
        f"Deployment/{f.data['deployment']}"
        for f in findings
        if f.kind in ("connection_errors", "auth_errors")
        and f.data.get("upstream") in focus
        and f.data.get("deployment")
    }
    return sorted(out)


def _suspects(
    deps: ToolDeps, snap: Snapshot, path: FailingPath, onset: str, context: Context, focus: list[str]
) -> tuple[list[Finding], list[str]]:
    """``suspect_change`` findings: changes on the failing path before the onset (journal or fallback)."""
    from tools.journal import changes_for

    when = parse_onset(onset)
    if when is None:
        return [], [f"onset {onset!r} is not an RFC 3339 time; suspect changes not ranked"]
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    try:
        # a week of history: which version of each object came first (a change back to it is a
        # restore, not a suspect); only the window before the onset is ranked
        changes = changes_for(deps, snap.namespace, when - HISTORY, context=context)
    except ToolError as exc:
        return [], [f"the change journal could not be read: {exc}"]
    return suspect_findings(changes, snap, path, when, focus), []


@tool(risk="read", tags=("analysis",))
@expected_errors
def triage(
    deps: ToolDeps,
    namespace: str,
    service: str | None = None,
    context: Context = None,
    onset: str | None = None,
) -> ToolResult:
    """Every analyzer on a namespace: crash loops, OOM, rollouts, SLOs, saturation, dependencies, nodes;
    with onset (RFC 3339, when the symptom began), also the changes on the failing path before it.
    Example: triage(namespace="ns", service="api", onset="2026-01-01T12:00:00Z")"""
    kube = Kube(deps, context)
    snap = take_snapshot(kube, namespace)
    signal_findings, notes = analyze_signals(deps, snap)
    findings = correlate(analyze_workloads(snap) + signal_findings)
    path: list[str] = []
    if onset:
        focus = focus_services(findings, service)
        walked = failing_path(snap, focus)
        path = [f"{kind}/{name}" for kind, name in walked.objects] + _callers(findings, focus)
        suspects, more = _suspects(deps, snap, walked, onset, context, focus)
        drifted, drift_notes = drift_findings(deps, namespace, walked, context)
        findings, notes = findings + suspects + drifted, notes + more + drift_notes
    findings = rank(findings, service)
    notes = snap.notes + notes
    head = f"{len(findings)} findings in {namespace}" + (f" (service {service} first)" if service else "")
    lines = [head]
    for f in findings:
        lines.append(f.line())
        lines += [f"    evidence: {e}" for e in f.evidence[:2]]
    lines += [f"note: {n}" for n in notes]
    data = {"findings": [f.model_dump(mode="json") for f in findings], "notes": notes, "path": path}
    return shaped(
        deps, "triage", "\n".join(lines) if findings or notes else f"{head}: nothing looks wrong", data
    )
