"""The hand-off when the agent cannot fix an incident safely: what a human needs to take over.

A run that ends while the system still fails (its alert fires, or triage still shows symptoms)
is *escalated*, never "no action needed". The hand-off says what is known, which changes on the
failing path came just before the symptom (with their diffs), what the agent tried and how that
ended, and the next commands to run. It is plain data (it travels through the checkpoint, the API
and Slack) plus a Markdown rendering for the report.
"""

from __future__ import annotations

from typing import Any

from agent.reasoners.base import is_symptom

MAX_SUSPECTS = 3
MAX_SYMPTOMS = 6
MAX_DIFF_LINES = 8

_KUBECTL_KIND = {
    "Deployment": "deployment",
    "StatefulSet": "statefulset",
    "DaemonSet": "daemonset",
    "Service": "service",
    "ConfigMap": "configmap",
    "Secret": "secret",
    "HorizontalPodAutoscaler": "hpa",
    "PodDisruptionBudget": "pdb",
    "Ingress": "ingress",
    "NetworkPolicy": "networkpolicy",
    "Node": "node",
    "Pod": "pod",
}


def _target(finding: dict[str, Any]) -> tuple[str, str | None, str]:
    """(kind, namespace, name) of a finding's target ``Kind/ns/name`` (``Node//name`` for nodes)."""
    parts = str(finding.get("target") or "").split("/")
    if len(parts) >= 3:
        return parts[0], parts[1] or None, parts[-1]
    return (parts[0] if parts else ""), None, (parts[-1] if parts else "")


def _diff_lines(diff: list[dict[str, Any]]) -> list[str]:
    lines = []
    for d in diff[:MAX_DIFF_LINES]:
        path, op = d.get("path"), d.get("op")
        if op == "add":
            lines.append(f"{path}: (unset) → {d.get('new')!r}")
        elif op == "remove":
            lines.append(f"{path}: {d.get('old')!r} → (removed)")
        else:
            lines.append(f"{path}: {d.get('old')!r} → {d.get('new')!r}")
    if len(diff) > MAX_DIFF_LINES:
        lines.append(f"… {len(diff) - MAX_DIFF_LINES} more fields")
    return lines


def _next_commands(
    incident: dict[str, Any], symptoms: list[dict[str, Any]], suspects: list[dict[str, Any]]
) -> list[str]:
    ns = incident.get("namespace") or "default"
    out = [f"devops-agent changes -n {ns} --since 1h"]
    for s in suspects:
        data = s.get("data") or {}
        kind = _KUBECTL_KIND.get(str(data.get("kind")), str(data.get("kind") or "").lower())
        name = data.get("name")
        where = "" if kind == "node" else f"-n {data.get('namespace') or ns} "
        if kind == "secret":
            out.append(
                f"kubectl {where}describe secret {name}   # keys only; compare with the consumers' expectations"
            )
        elif kind and name:
            out.append(f"kubectl {where}get {kind} {name} -o yaml")
    seen: set[tuple[str, str]] = set()
    for f in symptoms:
        kind, fns, name = _target(f)
        k = _KUBECTL_KIND.get(kind, kind.lower())
        if not k or not name or (k, name) in seen:
            continue
        seen.add((k, name))
        where = "" if k == "node" else f"-n {fns or ns} "
        out.append(f"kubectl {where}describe {k} {name}")
        if k == "deployment":
            out.append(f"kubectl {where}rollout history deployment {name}")
            out.append(f"kubectl {where}logs deployment/{name} --tail=50")
    out.append(f"kubectl -n {ns} get events --sort-by=.lastTimestamp | tail -20")
    return list(dict.fromkeys(out))[:10]


def build_handoff(
    state: dict[str, Any], findings_now: list[dict[str, Any]], failing: list[str]
) -> dict[str, Any]:
    """The hand-off for a run that ends on a system that still fails.

    ``findings_now`` are triage's findings at the end of the run (the latest picture); ``failing``
    says why the system counts as failing (the alert still fires, a symptom, triage unavailable).
    """
    incident = state.get("incident") or {}
    findings = findings_now or list(state.get("findings") or [])
    symptoms = [f for f in findings if is_symptom(f)][:MAX_SYMPTOMS]
    suspects = [f for f in (state.get("findings") or []) if f.get("kind") == "suspect_change"]
    suspects = suspects[:MAX_SUSPECTS]
    tried = [
        {
            "tool": a.get("tool"),
            "args": a.get("args"),
            "status": a.get("status"),
            "outcome": a.get("outcome"),
            "detail": a.get("verify") or a.get("note") or "",
        }
        for a in state.get("actions") or []
    ]
    return {
        "why": failing,
        "known": state.get("root_cause") or _known(symptoms),
        "symptoms": [
            f"[{f.get('severity')}] {f.get('kind')} {f.get('target')}: {f.get('summary')}" for f in symptoms
        ],
        "suspects": [
            {
                "target": s.get("target"),
                "summary": s.get("summary"),
                "changed_at": (s.get("data") or {}).get("changed_at"),
                "actor": (s.get("data") or {}).get("actor"),
                "diff": list((s.get("data") or {}).get("diff") or []),
                "revertible": bool((s.get("data") or {}).get("revertible")),
                "why_not": (s.get("data") or {}).get("why_not_revertible"),
            }
            for s in suspects
        ],
        "tried": tried,
        "folded_alerts": list(incident.get("folded_alerts") or []),
        "next": _next_commands(incident, symptoms, suspects),
    }


def _known(symptoms: list[dict[str, Any]]) -> str:
    if not symptoms:
        return "the cause is not determined"
    return "not determined; the strongest symptom is " + str(symptoms[0].get("summary"))


def handoff_markdown(h: dict[str, Any]) -> str:
    lines = ["## Hand-off (escalated to a human)", ""]
    lines.append("Still failing: " + ("; ".join(h.get("why") or []) or "yes"))
    lines.append(f"What is known: {h.get('known')}")
    if h.get("symptoms"):
        lines += ["", "Symptoms now:"] + [f"- {s}" for s in h["symptoms"]]
    if h.get("suspects"):
        lines += ["", "Suspect changes on the failing path (closest before the symptom first):"]
        for s in h["suspects"]:
            who = f" by {s['actor']}" if s.get("actor") else ""
            lines.append(f"- {s.get('target')} at {s.get('changed_at')}{who}: {s.get('summary')}")
            lines += [f"    {d}" for d in _diff_lines(s.get("diff") or [])]
            if s.get("why_not"):
                lines.append(f"    not reverted: {s['why_not']}")
    h.get("tried") or []
    tried_lines = [
        f"- `{t['tool']}` {t.get('args')}: {t.get('status')} → {t.get('outcome')}"
        + (f" — {t['detail']}" if t.get("detail") else "")
        for t in h.get("tried") or []
    ]
    lines += ["", "Tried:", *(tried_lines or ["- nothing: no safe change was found"])]
    if h.get("folded_alerts"):
        lines += ["", "Alerts folded into this incident: " + ", ".join(h["folded_alerts"])]
    lines += ["", "Next commands:", "```", *list(h.get("next") or []), "```"]
    return "\n".join(lines)
