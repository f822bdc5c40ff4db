"""``report compliance``: the audit chain's verification, approvals given, refused and expired (and by
whom), actions taken without approval under auto mode, changes during change-freeze windows, and the
registered sections (:mod:`agent.reports.sections`), as Markdown and JSON.

Freeze windows are the policy's as loaded now (``agent.policy``): a window added after a change
still flags it, which is what an auditor asking "what changed during the freeze" wants.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from agent.audit import AuditRow, VerifyReport
from agent.policy import Policy
from agent.reports.changes import cell, stamp
from agent.reports.record import ChangeEntry, object_of, row_time
from agent.reports.sections import Section
from tools.redact import redact_text

EXPIRED_PREFIX = "the approval expired"  # agent/nodes/approve.py writes this reason on expiry


class Approval(BaseModel):
    id: str
    requested_at: datetime
    incident_id: str | None
    tool: str
    object: str
    risk: str
    reason: str
    decision: str  # approved | rejected | expired | pending
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    approver_allowed: bool = True


def _decision(row: AuditRow | None) -> str:
    if row is None:
        return "pending"
    if str(row.data.get("reason") or "").startswith(EXPIRED_PREFIX):
        return "expired"
    return "approved" if row.data.get("decision") == "approve" else "rejected"


def approvals(rows: Sequence[AuditRow], policy: Policy, since: datetime, until: datetime) -> list[Approval]:
    """Approval requests made in the period, each with its decision (or pending)."""
    decided = {str(r.data.get("approval_id")): r for r in rows if r.kind == "approval_decided"}
    out = []
    for r in rows:
        if r.kind != "approval_requested" or not since <= row_time(r) < until:
            continue
        target = r.data.get("target") or {}
        d = decided.get(str(r.data.get("id")))
        out.append(
            Approval(
                id=str(r.data.get("id")),
                requested_at=row_time(r),
                incident_id=r.incident_id,
                tool=str(r.data.get("tool")),
                object=f"{target.get('kind')}/{target.get('namespace') or ''}/{target.get('name')}",
                risk=str(r.data.get("risk") or ""),
                reason=redact_text(str(r.data.get("reason") or "")),
                decision=_decision(d),
                decided_by=d.actor if d else None,
                decided_at=row_time(d) if d else None,
                decision_reason=redact_text(str(d.data["reason"])) if d and d.data.get("reason") else None,
                approver_allowed=d is None or _decision(d) == "expired" or policy.may_approve(d.actor),
            )
        )
    return out


def auto_actions(rows: Sequence[AuditRow], since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Changes applied without a human: the policy's auto mode allowed them."""
    return [
        {
            "at": row_time(r).isoformat(),
            "tool": r.data.get("tool"),
            "object": object_of(r.data),
            "incident_id": r.incident_id,
            "audit_id": r.id,
        }
        for r in rows
        if r.kind == "action_applied" and r.actor == "policy:auto" and since <= row_time(r) < until
    ]


def in_freeze(entries: Sequence[ChangeEntry], policy: Policy) -> list[dict[str, Any]]:
    """Changes (the agent's and outside ones) made while a freeze window was active."""
    out = []
    for e in entries:
        window = policy.active_freeze(e.at)
        if window is None or e.outcome == "failed":
            continue
        out.append(
            {
                "at": e.at.isoformat(),
                "object": e.object,
                "by": "agent" if e.by_agent else f"outside: {e.actor}",
                "tool": e.tool,
                "what": e.tool or (e.fields[0] if e.fields else "(edit)"),
                "approved_by": e.approved_by,
                "freeze": window.reason,
            }
        )
    return out


class ComplianceReport(BaseModel):
    since: datetime
    until: datetime
    chain: VerifyReport
    anchors: str  # what the anchored verification said, or why it did not run
    approvals: list[Approval]
    auto_actions: list[dict[str, Any]]
    freeze: list[dict[str, Any]]
    sections: list[Section]

    def as_json(self) -> dict[str, Any]:
        return {"report": "compliance", **self.model_dump(mode="json"), "summary": self.summary()}

    def summary(self) -> dict[str, Any]:
        decisions = Counter(a.decision for a in self.approvals)
        by: dict[str, Counter[str]] = defaultdict(Counter)
        for a in self.approvals:
            if a.decided_by and a.decision != "expired":
                by[a.decided_by][a.decision] += 1
        return {
            "audit_chain_ok": self.chain.ok,
            "approvals": {k: decisions.get(k, 0) for k in ("approved", "rejected", "expired", "pending")},
            "by_approver": {who: dict(sorted(c.items())) for who, c in sorted(by.items())},
            "auto_actions": len(self.auto_actions),
            "changes_in_freeze": len(self.freeze),
            "sections": {s.name: s.status for s in self.sections},
        }


def _chain_line(r: ComplianceReport) -> str:
    if r.chain.ok:
        return f"intact: {r.chain.rows_checked} rows verified"
    return f"**FAILED** at row {r.chain.first_bad_id}: {r.chain.problem}"


def _overview(r: ComplianceReport) -> list[str]:
    s = r.summary()["approvals"]
    rows = [
        ("audit chain", _chain_line(r)),
        ("anchored heads", r.anchors),
        ("approvals", f"{len(r.approvals)} requested: " + ", ".join(f"{n} {k}" for k, n in s.items())),
        ("actions without approval (auto mode)", str(len(r.auto_actions))),
        ("changes during freeze windows", str(len(r.freeze))),
        *((sec.title.lower(), sec.headline) for sec in r.sections),
    ]
    return ["| check | result |", "|---|---|", *(f"| {a} | {cell(b, 200)} |" for a, b in rows)]


def _by(a: Approval) -> str:
    if a.decided_by is None:
        return "—"
    return f"{a.decided_by} (too late)" if a.decision == "expired" else a.decided_by


def _approvals_md(r: ComplianceReport) -> list[str]:
    if not r.approvals:
        return ["No approval was requested in this period."]
    out = [
        "| requested (UTC) | id | change | object | decision | by | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in r.approvals:
        note = a.decision_reason or ""
        if not a.approver_allowed:
            note = f"{a.decided_by} is not on the policy's approver list; " + note
        out.append(
            f"| {stamp(a.requested_at)} | {a.id} | {a.tool} | {cell(a.object)} | {a.decision} "
            f"| {_by(a)} | {cell(note or a.reason, 100)} |"
        )
    by = r.summary()["by_approver"]
    out += ["", "By approver:", ""]
    out += [f"- {who}: " + ", ".join(f"{n} {k}" for k, n in c.items()) for who, c in by.items()] or [
        "- nobody"
    ]
    return out


def _auto_md(r: ComplianceReport) -> list[str]:
    if not r.auto_actions:
        return ["None: every change in this period had a human's approval."]
    out = ["| when (UTC) | change | object | incident |", "|---|---|---|---|"]
    for a in r.auto_actions:
        at = stamp(datetime.fromisoformat(a["at"]))
        out.append(f"| {at} | {a['tool']} | {cell(a['object'])} | {a['incident_id'] or '—'} |")
    return out


def _freeze_md(r: ComplianceReport) -> list[str]:
    if not r.freeze:
        return ["None."]
    out = ["| when (UTC) | object | by | change | approved by | window |", "|---|---|---|---|---|---|"]
    for f in r.freeze:
        at = stamp(datetime.fromisoformat(f["at"]))
        out.append(
            f"| {at} | {cell(f['object'])} | {cell(f['by'])} | {cell(f['what'], 60)} "
            f"| {f['approved_by'] or '—'} | {cell(f['freeze'])} |"
        )
    return out


def compliance_markdown(r: ComplianceReport) -> str:
    lines = [f"# Compliance report {stamp(r.since)} – {stamp(r.until)} UTC", "", *_overview(r), ""]
    lines += ["## Audit chain", "", f"Hash chain: {_chain_line(r)}.", f"Anchored heads: {r.anchors}.", ""]
    lines += ["## Approvals", "", *_approvals_md(r), ""]
    lines += ["## Actions taken without approval (policy auto mode)", "", *_auto_md(r), ""]
    lines += ["## Changes during change-freeze windows", "", *_freeze_md(r), ""]
    for sec in r.sections:
        lines += [f"## {sec.title}", "", *(sec.lines or [sec.headline]), ""]
    return "\n".join(lines)
