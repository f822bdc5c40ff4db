"""The record as changes: audit rows and journal versions joined into :class:`ChangeEntry` rows.

An ``action_applied`` row is a change the agent made: its approval request (or the guard's
decision) says why, its incident's ``run_started``/``run_finished`` rows say what the incident was
and its root cause, and the ``verify``/``action_undone`` rows after it give the outcome. A failed
apply (a ``tool_call`` with purpose ``apply`` and status ``error`` that did not land anyway) is a
change attempted. The journal's version of the same object, written by the agent's field manager
within :data:`MATCH_WINDOW` of the audit row, adds the field diff; every other journal version is a
change made outside the agent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.audit import AuditRow
from tools.journal.model import Change
from tools.journal.shape import field_line
from tools.redact import redact_obj, redact_text

AGENT_MANAGER = "devops-agent"  # tools.kubernetes.client.FIELD_MANAGER, kept here to stay light
MATCH_WINDOW = timedelta(seconds=120)
"""A journal version this close to an audit row, on the same object, belongs to that row."""

Origin = Literal["agent", "outside"]
OUTCOMES = {"fixed": "verified"}  # verify's word for it -> the report's word


class ChangeEntry(BaseModel):
    """One change in the change log."""

    at: datetime
    origin: Origin = Field(description="agent: an audit row records it; outside: only the journal saw it.")
    object: str = Field(description="Kind/namespace/name ('Kind//name' for cluster-scoped objects).")
    fields: list[str] = Field(default_factory=list, description="Field lines from the journal, redacted.")
    diff: str = Field("", description="The change as the tool described it (agent changes).")
    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    why: list[str] = Field(default_factory=list)
    approved_by: str | None = Field(None, description="Who approved it, or policy:auto; None for outside.")
    approval_id: str | None = None
    incident_id: str | None = None
    incident: str | None = Field(None, description="The incident's title.")
    outcome: str = Field(
        description="verified | undone | failed | no_effect | worse | pending | unverified | recorded"
    )
    outcome_detail: str = ""
    actor: str | None = Field(None, description="Who the journal says wrote it (managedFields manager).")
    journal_ids: list[int] = Field(default_factory=list)
    audit_id: int | None = None
    undone_at: datetime | None = Field(None, description="When the agent undid it (outcome undone).")

    @property
    def by_agent(self) -> bool:
        return self.origin == "agent"


def row_time(row: AuditRow) -> datetime:
    at = datetime.fromisoformat(row.ts)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def object_of(data: dict[str, Any]) -> str:
    """``Kind/ns/name`` of an audit row's effect target (or its target_ref), '' when unknown."""
    target = (data.get("effect") or {}).get("target") or {}
    if target.get("kind") and target.get("name"):
        return f"{target['kind']}/{target.get('namespace') or ''}/{target['name']}"
    ref = str(data.get("target_ref") or "")
    parts = ref.split("/")
    return "/".join(parts[1:4]) if len(parts) >= 4 else ref


class _Incidents:
    """Lookups over every audit row: titles, root causes, approval reasons, decisions."""

    def __init__(self, rows: Sequence[AuditRow]) -> None:
        self.rows = rows
        self.by_incident: dict[str | None, list[AuditRow]] = {}
        for r in rows:
            self.by_incident.setdefault(r.incident_id, []).append(r)
        self.title: dict[str, str] = {}
        self.root_cause: dict[str, str] = {}
        self.approval: dict[str, dict[str, Any]] = {}
        for r in rows:
            iid = r.incident_id or ""
            if r.kind == "run_started" and r.data.get("title"):
                self.title.setdefault(iid, str(r.data["title"]))
            elif r.kind == "run_finished" and r.data.get("root_cause"):
                self.root_cause[iid] = str(r.data["root_cause"])
            elif r.kind == "approval_requested" and r.data.get("id"):
                self.approval[str(r.data["id"])] = r.data

    def after(self, row: AuditRow) -> Iterable[AuditRow]:
        """The same incident's rows that follow ``row``."""
        return (r for r in self.by_incident.get(row.incident_id, []) if r.id > row.id)

    def decision_before(self, row: AuditRow) -> dict[str, Any]:
        """The guard's last decision on this tool before ``row`` in the same incident."""
        found: dict[str, Any] = {}
        for r in self.by_incident.get(row.incident_id, []):
            if r.id >= row.id:
                break
            if r.kind == "decision" and r.data.get("tool") == row.data.get("tool"):
                found = r.data
        return found

    def why(self, row: AuditRow, approval_id: str | None) -> list[str]:
        out = []
        request = self.approval.get(approval_id or "")
        reason = (request or {}).get("reason") or self.decision_before(row).get("reason")
        if reason:
            out.append(f"proposed because: {reason}")
        iid = row.incident_id or ""
        if self.root_cause.get(iid):
            out.append(f"root cause: {self.root_cause[iid]}")
        return [redact_text(line) for line in out]


def _outcome(inc: _Incidents, row: AuditRow) -> tuple[str, str, datetime | None]:
    """What came of an applied change: the first verify of its tool after it, or its undo (and when)."""
    tool = row.data.get("tool")
    verdict, detail = "", ""
    for r in inc.after(row):
        if r.data.get("tool") != tool:
            continue
        if r.kind == "action_applied":
            break  # the same tool applied again: later rows belong to that one
        if r.kind == "action_undone":
            undo = (r.data.get("undo") or {}).get("tool")
            status = "" if r.data.get("status") == "ok" else f" (the undo failed: {r.data.get('result')})"
            text = f"undone with {undo}: verify found it {verdict or 'not better'}" + (
                f" ({detail})" if detail else ""
            )
            text += status
            return "undone", text, row_time(r)
        if r.kind == "verify" and not verdict:
            verdict, detail = str(r.data.get("outcome")), str(r.data.get("detail") or "")
    if not verdict:
        return "unverified", "no verification recorded (a change made outside an incident run)", None
    return OUTCOMES.get(verdict, verdict), detail, None


def _landed(inc: _Incidents, row: AuditRow) -> bool:
    """A failed apply whose change landed anyway: ``action_applied`` of the tool before its next apply."""
    for r in inc.after(row):
        if r.kind == "tool_call" and r.data.get("purpose") == "apply":
            return False
        if r.kind == "action_applied" and r.data.get("tool") == row.data.get("tool"):
            return True
    return False


def _applied(inc: _Incidents, row: AuditRow) -> ChangeEntry:
    effect = row.data.get("effect") or {}
    approval_id = row.data.get("approval_id")
    outcome, detail, undone_at = _outcome(inc, row)
    return ChangeEntry(
        at=row_time(row),
        origin="agent",
        object=object_of(row.data),
        diff=redact_text(str(effect.get("diff") or "")),
        tool=str(row.data.get("tool")),
        args=redact_obj(row.data.get("args") or {}),
        why=inc.why(row, approval_id),
        approved_by=row.actor,
        approval_id=approval_id,
        incident_id=row.incident_id,
        incident=inc.title.get(row.incident_id or ""),
        outcome=outcome,
        outcome_detail=redact_text(detail),
        audit_id=row.id,
        undone_at=undone_at,
    )


def _failed(inc: _Incidents, row: AuditRow, approvals: dict[str, str]) -> ChangeEntry:
    args = row.data.get("args") or {}
    return ChangeEntry(
        at=row_time(row),
        origin="agent",
        object=object_of(row.data) or _object_from_args(args),
        tool=str(row.data.get("tool")),
        args=redact_obj(args),
        why=inc.why(row, None),
        approved_by=approvals.get(row.incident_id or ""),
        incident_id=row.incident_id,
        incident=inc.title.get(row.incident_id or ""),
        outcome="failed",
        outcome_detail=redact_text(str(row.data.get("summary") or "")),
        audit_id=row.id,
    )


def _object_from_args(args: dict[str, Any]) -> str:
    ns = args.get("namespace") or ""
    for key, kind in (("deployment", "Deployment"), ("node", "Node"), ("configmap", "ConfigMap")):
        if args.get(key):
            return f"{kind}/{'' if kind == 'Node' else ns}/{args[key]}"
    return f"?/{ns}/{args.get('name') or '?'}"


def agent_changes(rows: Sequence[AuditRow]) -> list[ChangeEntry]:
    """Every change the audit log records (applied, or attempted and failed), oldest first."""
    inc = _Incidents(rows)
    last_approver: dict[str, str] = {}
    out = []
    for row in rows:
        if row.kind == "approval_decided" and row.data.get("decision") == "approve":
            last_approver[row.incident_id or ""] = row.actor
        if row.kind == "action_applied":
            out.append(_applied(inc, row))
        elif (
            row.kind == "tool_call"
            and row.data.get("purpose") == "apply"
            and row.data.get("status") == "error"
            and not _landed(inc, row)
        ):
            out.append(_failed(inc, row, last_approver))
    return out


def _journal_object(c: Change) -> str:
    return f"{c.kind}/{c.namespace or ''}/{c.name}"


def _fields(c: Change) -> list[str]:
    if c.event == "added":
        return ["(created)"]
    if c.event == "deleted":
        return ["(deleted)"]
    return [redact_text(field_line(f)) for f in c.diff] or ["(what changed is not known)"]


def _claim(obj: str, at: datetime, journal: list[Change], taken: set[int]) -> list[Change]:
    """The journal versions of ``obj`` written by the agent (or by no known manager) near ``at``."""
    found = []
    for i, c in enumerate(journal):
        if i in taken or _journal_object(c) != obj:
            continue
        if c.actor not in (None, AGENT_MANAGER):
            continue
        if abs(c.time - at) <= MATCH_WINDOW:
            found.append(i)
    taken.update(found)
    return [journal[i] for i in found]


def _outside(c: Change) -> ChangeEntry:
    note = ""
    if c.actor == AGENT_MANAGER:
        note = "written by the agent's field manager, but no audit row records it: check the audit log"
    return ChangeEntry(
        at=c.time,
        origin="outside",
        object=_journal_object(c),
        fields=_fields(c),
        outcome="recorded",
        outcome_detail=note,
        actor=c.actor or "(unknown)",
        journal_ids=[c.id] if c.id is not None else [],
    )


def change_log(
    rows: Sequence[AuditRow], journal: Sequence[Change], since: datetime, until: datetime
) -> list[ChangeEntry]:
    """Agent changes (with their journal diff) and outside changes in ``[since, until)``, oldest first."""
    versions = sorted(journal, key=lambda c: (c.time, c.id or 0))
    taken: set[int] = set()
    entries = []
    for entry in agent_changes(rows):
        matched = _claim(entry.object, entry.at, versions, taken) if entry.outcome != "failed" else []
        undo = _claim(entry.object, entry.undone_at, versions, taken) if entry.undone_at else []
        entry.fields = [line for c in matched for line in _fields(c)]
        entry.fields += [f"undo: {line}" for c in undo for line in _fields(c)]
        entry.journal_ids = [c.id for c in [*matched, *undo] if c.id is not None]
        entry.actor = matched[0].actor if matched else None
        entries.append(entry)
    entries += [_outside(c) for i, c in enumerate(versions) if i not in taken]
    kept = [e for e in entries if since <= e.at < until]
    return sorted(kept, key=lambda e: (e.at, e.audit_id or 0, e.journal_ids))
