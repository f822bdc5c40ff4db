"""What memory stores about an incident, and what recall gives back.

:class:`IncidentRecord` is written by the agent's learn node at the end of a run and read back by
recall, the postmortem renderer, the eval harness and the ``incidents``/``knowledge`` CLI. Keep it
stable: add optional fields, never rename or remove one.

:class:`PastIncident` is the compact view recall returns: the record plus why it was chosen (the
hybrid score and its parts), with :meth:`PastIncident.compact` sized for the model's context.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Outcome = Literal["fixed", "no_effect", "worse", "rejected"]
"""A verified outcome of one action; the only values learning counts."""

ActionStatus = Literal["fixed", "no_effect", "worse", "rejected", "failed", "pending"]
"""Outcome of an action as recorded: the four learned outcomes, plus ``failed`` (the change could not
be applied, e.g. the API refused it) and ``pending`` (applied, not verified yet)."""

IncidentStatus = Literal["open", "mitigated", "resolved", "escalated", "unresolved"]


def utcnow() -> datetime:
    """Timezone-aware now (UTC); every timestamp in a record is aware."""
    return datetime.now(UTC)


class Evidence(BaseModel):
    """One observation that supported the diagnosis, with the call that produced it."""

    tool: str = Field(description="Tool that produced it, e.g. prometheus_query.")
    args: dict[str, Any] = Field(default_factory=dict, description="Its arguments (the query, the object).")
    summary: str = Field(description="What it showed, in one or two lines.")


class ActionOutcome(BaseModel):
    """One change the agent proposed or made, and what came of it."""

    tool: str = Field(description="Write tool, e.g. k8s_rollback.")
    args: dict[str, Any] = Field(default_factory=dict)
    target: str = Field("", description="What it changed: Deployment/ns/name, Node//name, ...")
    outcome: ActionStatus = "pending"
    approved_by: str | None = Field(
        None, description="Approver (user id) or 'policy:auto'; None if rejected."
    )
    at: datetime = Field(default_factory=utcnow, description="When it was applied (or rejected).")
    action_key: str | None = Field(
        None,
        description="Learning key: 'runbook_id:remediation_id' when it came from a runbook, else the tool.",
    )
    note: str = Field("", description="Why it was rejected, what verify saw, the error.")

    @property
    def key(self) -> str:
        """The learning statistics key of this action."""
        return self.action_key or self.tool


class TimelineEvent(BaseModel):
    """One line of the incident timeline."""

    at: datetime
    event: str


class IncidentRecord(BaseModel):
    """Everything memory keeps about one handled incident."""

    id: str = Field(description="Incident id (the graph's thread id).")
    title: str
    started_at: datetime = Field(description="When the symptom started (alert startsAt).")
    detected_at: datetime | None = Field(None, description="When the agent picked it up.")
    mitigated_at: datetime | None = Field(None, description="When the verified fix landed.")
    resolved_at: datetime | None = Field(None, description="When the alert resolved / the incident closed.")
    service: str | None = None
    namespace: str | None = None
    cluster: str | None = Field(None, description="Kubeconfig context.")
    alertname: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    fault_class: str | None = Field(
        None, description="e.g. bad_deploy, crashloop_config (runbook fault_class)."
    )
    symptoms: list[str] = Field(default_factory=list, description="What was observed, one line each.")
    evidence: list[Evidence] = Field(default_factory=list)
    root_cause: str = ""
    actions: list[ActionOutcome] = Field(default_factory=list)
    status: IncidentStatus = "resolved"
    timeline: list[TimelineEvent] = Field(default_factory=list)
    signature: str = Field("", description="Symptom signature (knowledge.learning.signature_for).")
    runbook_id: str | None = Field(None, description="Runbook that drove the response, if any.")
    follow_ups: list[str] = Field(default_factory=list, description="Work to do after the incident.")
    summary: str = Field("", description="One paragraph for humans; the postmortem's summary.")

    @property
    def time_to_detect_s(self) -> float | None:
        """Seconds from the start of the symptom to the agent picking it up."""
        return _seconds(self.started_at, self.detected_at)

    @property
    def time_to_mitigate_s(self) -> float | None:
        """Seconds from the start of the symptom to the verified fix."""
        return _seconds(self.started_at, self.mitigated_at)

    def search_text(self) -> str:
        """The text that is embedded: what a similar future incident would look like."""
        parts = [
            self.title,
            f"alert {self.alertname}" if self.alertname else "",
            f"service {self.service}" if self.service else "",
            f"fault {self.fault_class}" if self.fault_class else "",
            *self.symptoms,
            *(e.summary for e in self.evidence),
            self.root_cause,
        ]
        return "\n".join(p for p in parts if p)


class PastIncident(BaseModel):
    """A recalled incident: the record and why it ranked where it did."""

    record: IncidentRecord
    score: float = Field(description="Hybrid score: similarity + metadata boosts, times recency.")
    similarity: float = Field(description="Vector (cosine) similarity of the texts, 0..1.")
    matched: list[str] = Field(
        default_factory=list, description="Metadata that matched: service, alertname, ..."
    )

    @property
    def id(self) -> str:
        return self.record.id

    def compact(self, max_actions: int = 4) -> str:
        """A few lines for the model: root cause, actions with outcome, time to mitigate (~200 tokens)."""
        r = self.record
        head = f"[{r.id}] {r.started_at:%Y-%m-%d} {_clip(r.title, 90)}"
        where = " ".join(
            f"{k}={v}"
            for k, v in (("service", r.service), ("alert", r.alertname), ("fault", r.fault_class))
            if v
        )
        lines = [f"{head} (score {self.score:.2f}; {where})"]
        if r.root_cause:
            lines.append(f"  root cause: {_clip(r.root_cause, 220)}")
        for a in r.actions[:max_actions]:
            who = f", approved by {a.approved_by}" if a.approved_by else ""
            lines.append(f"  action: {a.tool} {_short_args(a.args)} -> {a.outcome}{who}")
        if len(r.actions) > max_actions:
            lines.append(f"  (+{len(r.actions) - max_actions} more actions)")
        ttm = r.time_to_mitigate_s
        lines.append(f"  time to mitigate: {_duration(ttm)}; status {r.status}")
        return "\n".join(lines)


class MemoryStats(BaseModel):
    """What ``knowledge stats`` shows."""

    location: str
    embedder: str
    incidents: int
    runbooks: int
    by_fault_class: dict[str, int] = Field(default_factory=dict)
    by_service: dict[str, int] = Field(default_factory=dict)
    oldest: datetime | None = None
    newest: datetime | None = None


class RunbookHit(BaseModel):
    """A runbook found by text search, for the LLM's context."""

    id: str
    title: str
    fault_class: str
    similarity: float
    document: str


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_args(args: dict[str, Any]) -> str:
    inner = ", ".join(f"{k}={v}" for k, v in args.items() if k != "context")
    return _clip(f"({inner})", 120)


def _duration(seconds: float | None) -> str:
    """'4m10s', '1h02m' or 'not mitigated'."""
    if seconds is None:
        return "not mitigated"
    s = round(seconds)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def format_duration(seconds: float | None) -> str:
    """Human duration used by postmortems and the CLI ('4m10s', '1h02m', 'not mitigated')."""
    return _duration(seconds)
