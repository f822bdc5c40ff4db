"""What the LLM is told from ``knowledge/``: the runbooks that fit, and what worked before.

The offline planner *executes* runbooks; the LLM *reads* them. Both must see the same runbooks and
the same learned statistics, so this module picks runbooks the way the planner does (alert, labels and
the findings about the suspect service), falls back to text search over the runbook index when none
matches, and computes the symptom signature exactly like the planner, so the outcome statistics that
``learn`` recorded for a planner run are found again for an LLM run (and the other way round).

Runbooks are shown compactly — id, title, diagnostics and remediations with their preconditions,
arguments rendered for this incident where the findings allow — never the whole Markdown, and
within a token cap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from agent.reasoners.planner import focus, render_context, suspect
from agent.state import AgentState
from knowledge.learning import signature_for
from knowledge.runbooks import Runbook, TemplateContext, TemplateError, match_runbooks, render_args
from tools.budget import fit_text
from tools.redact import redact_text

RUNBOOK_CONTEXT_TOKENS = 700
"""Cap on the runbook section of the incident prompt (about two compact runbooks)."""

MAX_RUNBOOKS = 2
"""Runbooks shown in the incident prompt."""


def _kinds(findings: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(f.get("kind")) for f in findings]


def focused(
    incident: Mapping[str, Any], findings: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The incident and findings as the planner sees them: errors followed to the failing upstream,
    findings narrowed to that service when it has symptoms."""
    service = suspect(findings, incident.get("service"))
    inc = dict(incident)
    if service and service != inc.get("service"):
        inc["service"] = service
    return inc, focus(findings, service)


def matching_runbooks(
    runbooks: Sequence[Runbook], incident: Mapping[str, Any], findings: list[dict[str, Any]]
) -> list[Runbook]:
    """Runbooks matching the alert and the focused findings, best first (the planner's choice)."""
    inc, mine = focused(incident, findings)
    return match_runbooks(list(runbooks), inc.get("alertname"), inc.get("labels") or {}, _kinds(mine))


def incident_signature(
    runbooks: Sequence[Runbook], incident: Mapping[str, Any], findings: list[dict[str, Any]]
) -> str:
    """The symptom signature ``learn`` counts outcomes under — the planner's, for any reasoner."""
    inc, mine = focused(incident, findings)
    matched = match_runbooks(list(runbooks), inc.get("alertname"), inc.get("labels") or {}, _kinds(mine))
    return signature_for(
        inc.get("alertname"),
        _kinds(mine),
        inc.get("service"),
        relevant=matched[0].relevant_kinds() if matched else None,
    )


def _call(tool: str, args: Mapping[str, Any], ctx: TemplateContext | None) -> str:
    """``tool(k=v, ...)`` with templates filled in where this incident has the values."""
    shown: Mapping[str, Any] = args
    if ctx is not None:
        try:
            shown = render_args(args, ctx)
        except TemplateError:
            shown = args  # a value this incident lacks: show the template, the model can fill it
    return f"{tool}(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


def runbook_summary(rb: Runbook, ctx: TemplateContext | None = None) -> str:
    """A few lines for the model: what the runbook matches, how to confirm, what to change and when."""
    lines = [f"runbook {rb.id}: {rb.title} [fault class {rb.fault_class}]"]
    if rb.match.alerts or rb.match.findings:
        lines.append(
            "  matches: alerts "
            + (", ".join(rb.match.alerts) or "-")
            + "; findings "
            + (", ".join(rb.match.findings) or "-")
        )
    for d in rb.diagnostics:
        lines.append(f"  diagnose: {_call(d.tool, d.args, ctx)}" + (f" — {d.why}" if d.why else ""))
    for r in rb.remediations:
        when = [f"requires {', '.join(r.requires)}" if r.requires else "requires nothing"]
        when += [f"unless {', '.join(r.unless)}"] if r.unless else []
        when += [f"after {', '.join(r.after)}"] if r.after else []
        expected = f" → {r.expected}" if r.expected else ""
        lines.append(
            f"  remediation {rb.id}:{r.id}: {_call(r.tool, r.args, ctx)} ({'; '.join(when)}){expected}"
        )
    return "\n".join(lines)


def runbooks_text(
    runbooks: Sequence[Runbook], state: Mapping[str, Any] | None = None, budget: int = RUNBOOK_CONTEXT_TOKENS
) -> str:
    """Compact summaries of these runbooks, redacted and cut to ``budget`` tokens."""
    ctx = render_context(cast(AgentState, dict(state))) if state is not None else None
    text = "\n".join(runbook_summary(rb, ctx) for rb in runbooks)
    return fit_text(redact_text(text), budget)[0]


def by_ids(runbooks: Sequence[Runbook], ids: Sequence[str]) -> list[Runbook]:
    """The loaded runbooks with these ids, in the order of ``ids`` (unknown ids are skipped)."""
    known = {rb.id: rb for rb in runbooks}
    return [known[i] for i in ids if i in known]


def search_loaded(runbooks: Sequence[Runbook], memory: Any | None, text: str, k: int = 3) -> list[Runbook]:
    """Runbooks most like ``text``: the memory's vector index when it is open, else word overlap."""
    if memory is not None:
        try:
            return by_ids(runbooks, [h.id for h in memory.search_runbooks(text, k=k)])
        except Exception:  # a broken index must not hide the runbooks: fall back to words
            pass
    words = {w for w in text.lower().split() if len(w) > 3}
    scored = [(len(words & set(rb.search_text().lower().split())), rb.id, rb) for rb in runbooks]
    return [rb for score, _, rb in sorted(scored, key=lambda t: (-t[0], t[1])) if score > 0][:k]


def remediation_for(
    runbooks: Sequence[Runbook], state: Mapping[str, Any], tool: str, args: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The runbook remediation a proposed change carries out, if one fits (same tool, its rendered
    arguments among the call's, preconditions holding), as the planner would label it.

    Then the LLM's change is learned under the same action key as the planner's
    (``runbook_id:remediation_id``), and each reasoner profits from what the other learned.
    """
    kinds = set(_kinds(state.get("findings", [])))
    ctx = render_context(cast(AgentState, dict(state)))
    for rb in runbooks:
        for rem in rb.applicable(kinds):
            if rem.tool != tool:
                continue
            try:
                wanted = render_args(rem.args, ctx)
            except TemplateError:
                continue
            if all(args.get(k) == v for k, v in wanted.items()):
                return {
                    "action_key": rb.action_key(rem),
                    "runbook": rb.id,
                    "remediation": rem.id,
                    "fault_class": rb.fault_class,
                    "requires": list(rem.requires),
                    "expected": rem.expected,
                }
    return None
