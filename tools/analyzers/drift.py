"""Drift on the failing path: declared objects the path depends on that differ from the desired state.

Evidence next to the change journal's ``suspect_change``: a suspect says *what changed and when*, a
``drifted_from_desired`` finding says *which fields no longer match what was declared* (even when
the journal never saw the edit). Only objects on the failing path are checked, so triage stays
cheap; without a desired state (``DEVOPS_AGENT_DESIRED_STATE`` unset) nothing is checked.
"""

from __future__ import annotations

from tools.analyzers.suspects import FailingPath
from tools.base import ToolDeps
from tools.desired.drift import ObjectDrift, check
from tools.desired.source import load
from tools.errors import ToolError
from tools.findings import Finding
from tools.kubernetes.client import Kube

MAX_FIELDS = 8


def _finding(d: ObjectDrift, namespace: str, workload: str | None) -> Finding:
    fields = [f["path"] or "(whole object)" for f in d.as_dict()["fields"]]
    where = d.declared.file or "the desired state"
    summary = (
        f"{d.declared.kind} {d.declared.name} is missing (declared in {where})"
        if d.state == "missing"
        else f"{d.declared.kind} {d.declared.name} differs from {where}: {', '.join(fields[:4])}"
        + (f" and {len(fields) - 4} more" if len(fields) > 4 else "")
    )
    return Finding(
        kind="drifted_from_desired",
        target=f"{d.declared.kind}/{namespace}/{d.declared.name}",
        summary=summary,
        severity="warning",
        evidence=[f"drift(namespace={namespace!r})"],
        data={
            "kind": d.declared.kind,
            "name": d.declared.name,
            "namespace": namespace,
            "file": d.declared.file,
            "state": d.state,
            "fields": fields[:MAX_FIELDS],
            "diff": d.as_dict()["fields"][:MAX_FIELDS],
            # a Secret that differs is most often a rotation: evidence, never synced back by itself
            "syncable": d.declared.kind != "Secret",
            **({"deployment": workload} if workload else {}),
        },
    )


def drift_findings(
    deps: ToolDeps, namespace: str, path: FailingPath, context: str | None
) -> tuple[list[Finding], list[str]]:
    """``drifted_from_desired`` findings for the declared objects on ``path``, and notes."""
    location = getattr(deps, "desired_state", None)
    if location is None:
        return [], []
    try:
        desired = load(location, str(getattr(deps, "desired_ref", "HEAD")))
    except ToolError as exc:
        return [], [f"the desired state could not be read, drift not checked: {exc}"]
    on_path = [
        d
        for d in desired.objects
        if (d.kind, d.name) in path.objects and (d.namespace or namespace) == namespace
    ]
    if not on_path:
        return [], []
    ignored = list(getattr(deps, "drift_ignored_managers", ("kube-controller-manager",)))
    report = check(Kube(deps, context), on_path, ignored, source=desired.source, default_namespace=namespace)
    notes = [f"drift of {ref} not checked: {why}" for ref, why in report.errors.items()]
    found = [
        _finding(d, namespace, path.objects.get((d.declared.kind, d.declared.name))) for d in report.drifted
    ]
    return found, notes
