"""The state of one run of the incident graph (thread id = incident id).

Everything in it is plain JSON (dicts, lists, strings, numbers) so the SQLite checkpointer can keep it
across restarts and another process can resume it. Nodes return partial updates; every field is
replaced on update (no reducers), so a node that extends a list returns the whole new list.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

RunStatus = Literal[
    "resolved", "awaiting_approval", "mitigation_failed", "escalated", "no_action_needed", "aborted"
]
"""How a run ended (``investigate --json`` prints it as ``status``). ``no_action_needed`` means the
signals say healthy; a run that found no safe change on a system that still fails is ``escalated``."""

ActionOutcome = Literal["fixed", "no_effect", "worse", "rejected", "denied", "failed", "pending"]
"""What happened to one proposed action (``fixed``/``no_effect``/``worse``/``rejected`` feed learning)."""

Phase = Literal["investigating", "guarding", "awaiting_approval", "acting", "verifying", "done"]


class AgentState(TypedDict, total=False):
    """One incident (or one chat session) as it moves through the graph."""

    incident: dict[str, Any]
    """The incident from intake: id, source (cli|alert|chat), question, title, alertname, labels,
    annotations, severity, namespace, service, context (cluster), fingerprint, started_at, expr."""

    question: str
    """The latest user question or alert summary this run answers (chat appends a new one per turn)."""

    messages: list[dict[str, Any]]
    """The conversation in OpenAI chat format (system, user, assistant with tool_calls, tool).
    Only the LLM reasoner reads it; everything in it has been redacted."""

    findings: list[dict[str, Any]]
    """Triage findings (``tools.analysis.Finding`` as dicts): kind, target, summary, evidence, severity, data."""

    path: list[str]
    """The failing dependency path triage walked from the alerting service (``Kind/name``: Service,
    workloads, their ConfigMaps, Secrets, HPA and nodes); serve folds correlated alerts on it."""

    evidence: list[dict[str, Any]]
    """Every tool call of the run: tool, args, status, compact text, step, duration_s."""

    recalled: list[dict[str, Any]]
    """Similar past incidents from memory, with the actions that worked for them."""

    memory_note: str | None
    """Why memory or learning was unavailable (``memory unavailable: <reason>``), or None."""

    runbooks: list[str]
    """Ids of the runbooks that match the incident, best first."""

    pending_calls: list[dict[str, Any]]
    """Read tool calls the reasoner asked for and the tools node has not run yet: id, tool, args."""

    proposed: dict[str, Any] | None
    """The change under consideration: tool, args, reason, call_id (LLM tool call), remediation
    (runbook remediation id), expected, approved_by (set once a human approved edited args)."""

    dry_run: dict[str, Any] | None
    """The dry-run result of the proposed change: status, text, effect (``ActionEffect`` dict)."""

    verdict: dict[str, Any] | None
    """The guard's verdict on the proposed change: decision, reasons, autonomy, risk."""

    approval: dict[str, Any] | None
    """The approval request of the proposed change (``ApprovalRequest`` dict) and, once decided,
    ``decision`` (``ApprovalDecision`` dict)."""

    actions: list[dict[str, Any]]
    """Every proposed change and what became of it: tool, args, reason, remediation, verdict,
    approval_id, approver, idempotency_key, status (applied|skipped|failed|denied|rejected|undone),
    outcome (``ActionOutcome``), diff, undo, verify detail."""

    plan: dict[str, Any]
    """The offline planner's bookkeeping: runbook, diagnostics_done, tried remediations."""

    notes: list[str]
    """Things the reasoner must know before its next step (a denial, a rejection, a verify result)."""

    call_keys: list[str]
    """Keys (tool + canonical args) of every tool call made this run, for the repeat-call guard."""

    strikes: int
    """Loop-safety violations so far (unknown tool, malformed arguments, repeated call)."""

    steps: int
    """Reasoning steps taken this run (the step limit counts these)."""

    tokens: int
    """LLM tokens used this run (prompt + completion, from the responses' usage)."""

    phase: Phase
    """Where the run is now."""

    status: RunStatus | None
    """How the run ended; None while it runs."""

    stop_reason: str | None
    """Why the run stopped early (loop safety, unreachable backend), or None."""

    answer: str | None
    """The reasoner's final answer (what it found and what it did)."""

    root_cause: str | None
    """The root cause in one sentence, when the reasoner found one."""

    report: str | None
    """The Markdown report of the run (timeline, evidence, root cause, actions, outcome)."""

    handoff: dict[str, Any] | None
    """For a run that ends while the system still fails: what a human needs to take over
    (``agent.handoff.build_handoff``: why, what is known, suspect changes, what was tried, next commands)."""


RUN_FIELDS_RESET: dict[str, Any] = {
    "plan": {},
    "pending_calls": [],
    "proposed": None,
    "dry_run": None,
    "verdict": None,
    "approval": None,
    "notes": [],
    "call_keys": [],
    "strikes": 0,
    "steps": 0,
    "tokens": 0,
    "phase": "investigating",
    "status": None,
    "stop_reason": None,
    "answer": None,
    "report": None,
    "handoff": None,
}
"""Per-run fields intake resets when a new turn starts on an existing thread (chat)."""
