"""Candidate remediations for an incident, ranked in one place for both reasoners.

From the findings it builds, in this order of preference:

1. a runbook remediation whose preconditions hold (the runbooks that match the alert and findings);
2. else the revert of a suspect change on the failing path (``suspect_change`` findings: the exact
   inverse of a recorded diff, any field of any object), closest before the symptom first;
3. else the sync back to the desired state of a declared object on the failing path that drifted from
   it (``drifted_from_desired`` findings; a Secret is evidence only: its drift is most often a
   rotation);
4. else escalation to a human (always last: when nothing is safe to try, the agent says so).

Past outcomes re-rank the changes (``OutcomeStats.rank``: a fix that failed twice for this symptom
signature drops behind one that never failed); escalation stays last. Two guards apply to every
candidate, whatever its source: a capacity change driven by saturation alone needs a symptom users
feel (errors or latency: load within the SLO is not an incident), and scaling never helps while pods
cannot be scheduled.

The offline planner executes the list; the LLM receives it as evidence, not as orders.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agent.state import AgentState

USER_SYMPTOMS = frozenset({"high_error_rate", "high_latency", "no_endpoints", "connection_errors"})
"""Findings that mean users are affected: a capacity change needs one of them (or a critical finding)."""

_CAPACITY_TOOLS = frozenset({"k8s_scale"})
SATURATION = frozenset({"cpu_saturation", "hpa_maxed"})
"""Findings that say a workload is busy, not that anyone suffers from it."""


def _kinds(findings: Sequence[dict[str, Any]]) -> set[str]:
    return {str(f.get("kind")) for f in findings}


def runbook_candidates(runbooks: Sequence[Any], state: AgentState) -> list[dict[str, Any]]:
    """Remediations of these runbooks whose preconditions hold, in runbook then remediation order."""
    from agent.reasoners.planner import render_args_for

    kinds = _kinds(state.get("findings", []))
    applied = [
        str(a.get("action_key"))
        for a in state.get("actions", [])
        if a.get("action_key") and a.get("outcome") not in ("rejected", "failed")
    ]
    out = []
    for rb in runbooks:
        for rem in rb.applicable(kinds, applied=applied):  # requires, unless, and `after` sequencing
            args = render_args_for(dict(rem.args), state)
            if args is None:
                continue
            out.append(
                {
                    "source": "runbook",
                    "tool": rem.tool,
                    "args": args,
                    "reason": f"runbook {rb.id} ({rb.title}): remediation {rem.id}",
                    "remediation": rem.id,
                    "runbook": rb.id,
                    "fault_class": rb.fault_class,
                    "action_key": f"{rb.id}:{rem.id}",
                    "expected": rem.expected or "",
                    "requires": list(rem.requires),
                    # remediations of this runbook that only make sense after this one (a config
                    # revert whose effect shows once the pods restart): verify does not wait for it
                    "followed_by": [r.id for r in rb.remediations if rem.id in r.after],
                }
            )
    return out


def revert_key(data: dict[str, Any]) -> str:
    """The learning key of a revert: the kind and the shape of the fields it restores (list indices
    folded), so what was learned about reverting a Service's targetPort applies to any Service."""
    paths = sorted({re.sub(r"/\d+(?=/|$)", "/*", str(d.get("path"))) for d in data.get("diff") or []})
    return f"revert:{data.get('kind')}:" + ",".join(paths[:3])


def _restarts(data: dict[str, Any], key: str, state: AgentState) -> list[dict[str, Any]]:
    """Once a ConfigMap's revert is applied, restarting its consumers: pods read it at start."""
    applied = {a.get("action_key") for a in state.get("actions", []) if a.get("status") == "applied"}
    if data.get("kind") != "ConfigMap" or key not in applied:
        return []
    return [
        {
            "source": "revert",
            "tool": "k8s_rollout_restart",
            "args": {"deployment": consumer, "namespace": data.get("namespace")},
            "reason": f"{consumer} reads {data['name']} at start: restart it to pick up the reverted values",
            "remediation": "restart-consumer",
            "runbook": None,
            "fault_class": "change",
            "action_key": f"{key}:restart",
            "expected": f"{consumer}'s new pods read the reverted {data['name']}",
            "requires": ["suspect_change"],
            "followed_by": [],
            "suspect": f"ConfigMap/{data.get('namespace')}/{data['name']}",
        }
        for consumer in data.get("consumers") or []
    ]


def revert_candidates(state: AgentState) -> list[dict[str, Any]]:
    """The revert of each revertible suspect change, closest before the symptom first (a ConfigMap's
    revert is followed by restarting the workloads that read it)."""
    suspects = [f for f in state.get("findings", []) if f.get("kind") == "suspect_change"]
    suspects.sort(key=lambda f: int((f.get("data") or {}).get("rank") or 99))
    out: list[dict[str, Any]] = []
    for f in suspects:
        data = f.get("data") or {}
        if not data.get("revertible"):
            continue
        args = {"kind": data["kind"], "name": data["name"], "change": data["change"]}
        if data.get("namespace"):
            args["namespace"] = data["namespace"]
        key = revert_key(data)
        out += _restarts(data, key, state)
        out.append(
            {
                "source": "revert",
                "tool": "k8s_revert_change",
                "args": args,
                "reason": f"revert the suspect change: {f.get('summary')}",
                "remediation": "revert-suspect-change",
                "runbook": None,
                "fault_class": "change",
                "action_key": key,
                "expected": f"{data['kind']} {data['name']} is back as before the change; the symptoms clear",
                "requires": ["suspect_change"],
                # a ConfigMap's effect shows once its readers restart: verify does not wait for it
                "followed_by": ["restart-consumer"]
                if data.get("kind") == "ConfigMap" and data.get("consumers")
                else [],
                "suspect": f.get("target"),
            }
        )
    return out


def sync_candidates(state: AgentState) -> list[dict[str, Any]]:
    """The sync to desired of each syncable drifted object on the failing path, in triage's order."""
    out: list[dict[str, Any]] = []
    for f in state.get("findings", []):
        data = f.get("data") or {}
        if f.get("kind") != "drifted_from_desired" or not data.get("syncable"):
            continue
        args = {"kind": data["kind"], "name": data["name"]}
        if data.get("namespace"):
            args["namespace"] = data["namespace"]
        out.append(
            {
                "source": "sync",
                "tool": "desired_sync",
                "args": args,
                "reason": f"sync back to the desired state: {f.get('summary')}",
                "remediation": "sync-to-desired",
                "runbook": None,
                "fault_class": "change",
                "action_key": f"sync:{data['kind']}:"
                + ",".join(sorted(str(p) for p in data.get("fields") or [])[:3]),
                "expected": f"{data['kind']} {data['name']} matches {data.get('file') or 'its manifest'} again; the symptoms clear",
                "requires": ["drifted_from_desired"],
                "followed_by": [],
                "suspect": f.get("target"),
            }
        )
    return out


def escalation(why: str) -> dict[str, Any]:
    return {"source": "escalate", "tool": None, "args": {}, "action_key": "escalate", "reason": why}


def _adds_replicas(candidate: dict[str, Any]) -> bool:
    return candidate.get("tool") in _CAPACITY_TOOLS


def guarded(
    candidates: list[dict[str, Any]], findings: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Drop candidates the situation rules out, and say why."""
    kinds = _kinds(findings)
    users_hurt = bool(kinds & USER_SYMPTOMS) or any(
        f.get("severity") == "critical" and f.get("kind") not in ("suspect_change",) for f in findings
    )
    restarts_only = {
        str((f.get("data") or {}).get("deployment"))
        for f in findings
        if f.get("kind") == "recent_rollout" and (f.get("data") or {}).get("change") == "restart"
    }
    kept, dropped = [], []
    for c in candidates:
        if c.get("tool") == "k8s_rollback" and str((c.get("args") or {}).get("deployment")) in restarts_only:
            dropped.append(
                f"{c['action_key']}: the recent rollout was only a restart; rolling it back restarts again"
            )
            continue
        if _adds_replicas(c) and "pods_pending" in kinds:
            dropped.append(
                f"{c['action_key']}: pods cannot be scheduled, more replicas only add Pending pods"
            )
        elif _adds_replicas(c) and set(c.get("requires") or []) <= SATURATION and not users_hurt:
            dropped.append(f"{c['action_key']}: no symptom users feel (errors, latency), load within the SLO")
        else:
            kept.append(c)
    return kept, dropped


def rank_candidates(
    runbooks: Sequence[Any], state: AgentState, signature: str, stats: Any | None
) -> list[dict[str, Any]]:
    """Every candidate for this incident, best first, escalation last (see the module doc)."""
    findings = state.get("findings", [])
    changes, dropped = guarded(
        runbook_candidates(runbooks, state) + revert_candidates(state) + sync_candidates(state), findings
    )
    if stats is not None and len(changes) > 1:
        order = stats.rank(signature, [c["action_key"] for c in changes])
        by_key: dict[str, dict[str, Any]] = {}
        for c in changes:
            by_key.setdefault(c["action_key"], c)
        changes = [by_key[k] for k, _ in order if k in by_key] + [
            c for c in changes if by_key.get(c["action_key"]) is not c
        ]
    why = (
        "no runbook remediation, revertible change or sync to desired fits"
        if not changes
        else "if nothing above works"
    )
    if dropped:
        why += "; ruled out: " + "; ".join(dropped)
    return [*changes, escalation(why)]


def candidates_text(candidates: Sequence[dict[str, Any]], limit: int = 5) -> str:
    """The ranked list for the LLM's incident prompt: evidence, not orders."""
    lines = []
    for i, c in enumerate(candidates[:limit], start=1):
        if c["source"] == "escalate":
            lines.append(f"{i}. escalate to a human ({c['reason']})")
        else:
            args = ", ".join(f"{k}={v!r}" for k, v in (c.get("args") or {}).items())
            lines.append(f"{i}. [{c['source']}] {c['tool']}({args}) — {c['reason']}")
    return "\n".join(lines)
