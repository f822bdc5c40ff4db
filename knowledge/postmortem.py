"""Postmortems: one Markdown document per finished incident, from its :class:`IncidentRecord`.

Blameless and factual: summary, impact window, timeline, the evidence with the query or call that
found it, root cause, every action with who approved it and what it did, time to detect and to
mitigate, follow-ups. Nothing is invented: a section with no data says so.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from knowledge.records import ActionOutcome, IncidentRecord, format_duration

_OUTCOME_TEXT = {
    "fixed": "fixed it (verified)",
    "no_effect": "no effect",
    "worse": "made it worse (undone)",
    "rejected": "rejected",
    "failed": "could not be applied",
    "pending": "not verified",
}


def _ts(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if at else "—"


def _args(args: dict[str, Any]) -> str:
    return json.dumps(args, sort_keys=True, default=str)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _summary(r: IncidentRecord) -> list[str]:
    where = ", ".join(
        f"{k} `{v}`"
        for k, v in (("service", r.service), ("namespace", r.namespace), ("cluster", r.cluster))
        if v
    )
    fixed = [a for a in r.actions if a.outcome == "fixed"]
    default = (
        f"{r.alertname or 'An incident'} on {where or 'an unknown target'}. "
        f"Root cause: {r.root_cause or 'not determined'}. "
        + (f"Mitigated by {', '.join(f'`{a.tool}`' for a in fixed)}." if fixed else "No verified mitigation.")
    )
    return [
        "## Summary",
        "",
        r.summary or default,
        "",
        f"- **Status:** {r.status}",
        f"- **Alert:** {r.alertname or '—'}",
        f"- **Where:** {where or '—'}",
        f"- **Fault class:** {r.fault_class or '—'}",
        f"- **Signature:** `{r.signature}`" if r.signature else "- **Signature:** —",
        f"- **Runbook:** {r.runbook_id or '—'}",
        "",
    ]


def _timings(r: IncidentRecord) -> list[str]:
    return [
        "## Impact and timings",
        "",
        "| started | detected | mitigated | resolved | time to detect | time to mitigate |",
        "|---|---|---|---|---|---|",
        f"| {_ts(r.started_at)} | {_ts(r.detected_at)} | {_ts(r.mitigated_at)} | {_ts(r.resolved_at)} "
        f"| {format_duration(r.time_to_detect_s) if r.detected_at else '—'} "
        f"| {format_duration(r.time_to_mitigate_s)} |",
        "",
    ]


def _timeline(r: IncidentRecord) -> list[str]:
    events = [(r.started_at, "symptom started" + (f" ({r.alertname})" if r.alertname else ""))]
    events += [(e.at, e.event) for e in r.timeline]
    if not r.timeline:  # derive one from what the record knows
        events += [(r.detected_at, "agent picked up the incident")] if r.detected_at else []
        events += [(a.at, f"{a.tool} → {_OUTCOME_TEXT[a.outcome]}") for a in r.actions]
        events += [(r.mitigated_at, "mitigation verified")] if r.mitigated_at else []
        events += [(r.resolved_at, "resolved")] if r.resolved_at else []
    events.sort(key=lambda t: t[0])
    return ["## Timeline", "", *(f"- `{_ts(at)}` {_cell(text)}" for at, text in events), ""]


def _evidence(r: IncidentRecord) -> list[str]:
    lines = ["## Evidence", ""]
    if not r.symptoms and not r.evidence:
        return [*lines, "_No evidence was recorded._", ""]
    lines += [f"- {_cell(s)}" for s in r.symptoms]
    if r.evidence:
        lines += ["", "| what it showed | found by |", "|---|---|"]
        lines += [f"| {_cell(e.summary)} | `{e.tool}` `{_cell(_args(e.args))}` |" for e in r.evidence]
    return [*lines, ""]


def _action_row(a: ActionOutcome) -> str:
    who = a.approved_by or ("—" if a.outcome != "rejected" else "rejected by a human")
    note = f" — {_cell(a.note)}" if a.note else ""
    return (
        f"| {_ts(a.at)} | `{a.tool}` `{_cell(_args(a.args))}` | {_cell(a.target) or '—'} | {_cell(who)} "
        f"| {_OUTCOME_TEXT[a.outcome]}{note} |"
    )


def _actions(r: IncidentRecord) -> list[str]:
    lines = ["## Actions and approvals", ""]
    if not r.actions:
        return [*lines, "_No change was made._", ""]
    lines += ["| when | action | target | approved by | outcome |", "|---|---|---|---|---|"]
    return [*lines, *(_action_row(a) for a in r.actions), ""]


def _follow_ups(r: IncidentRecord) -> list[str]:
    items = list(r.follow_ups)
    if not items:
        if any(a.outcome in ("worse", "no_effect") for a in r.actions):
            items.append(
                "Review the actions that did not help and update the runbook's order or preconditions."
            )
        if r.status != "resolved":
            items.append("The incident is not resolved: confirm the current state and finish the mitigation.")
        if not r.root_cause:
            items.append("Establish the root cause; the agent could not determine it.")
        if r.fault_class:
            items.append(f"Add an alert or a pre-deploy check that would catch `{r.fault_class}` earlier.")
    return ["## Follow-ups", "", *(f"- [ ] {_cell(i)}" for i in items), ""]


def render_postmortem(record: IncidentRecord) -> str:
    """The postmortem of one incident as Markdown."""
    r = record
    sections = [
        [f"# Postmortem: {r.title}", "", f"Incident `{r.id}`", ""],
        _summary(r),
        _timings(r),
        _timeline(r),
        _evidence(r),
        ["## Root cause", "", r.root_cause or "_Not determined._", ""],
        _actions(r),
        _follow_ups(r),
    ]
    return "\n".join(line for section in sections for line in section).rstrip() + "\n"
