"""The offline planner: executes the runbooks in ``knowledge/runbooks/`` when no LLM is configured.

Per run it (1) matches runbooks against the alert and the triage findings, (2) runs the best
runbook's diagnostics through the same tools node as the LLM's calls, (3) proposes the first
remediation whose ``requires``/``unless`` hold, ranked by past outcomes (``OutcomeStats.rank``) when
learning is available, and (4) after a failed, rejected or denied remediation proposes the next one.
It finishes when a change is verified as fixed, when nothing applicable is left, or when no runbook
matches (then it reports the findings and says so).
"""

from __future__ import annotations

from typing import Any

from agent.reasoners.base import ReasonContext, Step, ToolCall, is_symptom, mentions, scoped
from agent.remediation import rank_candidates
from agent.state import AgentState
from knowledge.learning import signature_for
from knowledge.runbooks import TemplateContext, TemplateError, match_runbooks, render_args


class PlannerReasoner:
    """Deterministic runbook execution; same tools, guard, approvals and audit as the LLM."""

    name = "planner"

    def next_step(self, state: AgentState, ctx: ReasonContext) -> Step:
        plan = dict(state.get("plan") or {})
        incident = state.get("incident", {})
        service = suspect(state.get("findings", []), incident.get("service"))
        if service and service != incident.get("service"):
            incident = {**incident, "service": service}
        findings = focus(state.get("findings", []), service)
        state = {**state, "incident": incident, "findings": findings}
        if "runbooks" not in plan:
            matched = match_runbooks(
                list(ctx.runbooks), incident.get("alertname"), incident.get("labels") or {}, _kinds(findings)
            )
            plan = {
                "runbooks": [r.id for r in matched],
                "diagnosed": False,
                "tried": [],
                "suspect": service,
                # learn counts outcomes under this same signature: focused findings, the suspect, and
                # only the kinds the leading runbook decides on (a pod starting meanwhile is noise)
                "signature": signature_for(
                    incident.get("alertname"),
                    _kinds(findings),
                    incident.get("service"),
                    relevant=matched[0].relevant_kinds() if matched else None,
                ),
            }
        follows = incident.get("follows") or {}
        if follows and not _symptoms(findings) and not state.get("actions"):
            # released after a verified fix elsewhere, and nothing fails now: a lagging alert, not a
            # new fault; diagnosing it again would only repeat the first incident's calls
            return _finish_cleared(follows, findings, plan)
        runbooks = [r for rid in plan["runbooks"] for r in ctx.runbooks if r.id == rid]
        signature = plan.get("signature") or _signature(incident, findings)
        ranked = rank_candidates(runbooks, state, signature, ctx.stats)
        if not runbooks and len(ranked) == 1:  # nothing but escalation: no runbook, no revertible change
            failed = _triage_failure(state)
            if failed and not findings:  # nothing to go on: say why instead of "nothing wrong"
                return Step(
                    kind="abort", stop_reason=f"triage could not run, so nothing can be diagnosed: {failed}"
                )
            return _finish_unmatched(incident, findings, plan)
        if not plan["diagnosed"]:
            plan["diagnosed"] = True
            proven = _proven_fix(ranked, signature, ctx)
            if proven is not None:  # fixed this exact signature before: straight to it (verify still judges)
                plan["tried"] = [*plan["tried"], proven["action_key"]]
                plan["shortcut"] = proven["action_key"]
                return Step(kind="propose", action=proven, updates={"plan": plan})
            calls = _diagnostics(runbooks[0], state) if runbooks else []
            if calls:
                return Step(kind="call_tools", calls=calls, updates={"plan": plan})
        fixed = [a for a in state.get("actions", []) if a.get("outcome") == "fixed"]
        if fixed:
            return _finish_fixed(fixed[-1], runbooks, findings, plan)
        tried = set(plan["tried"]) | {a.get("action_key") for a in state.get("actions", [])}
        candidates = [c for c in ranked if c["action_key"] not in tried]
        if candidates[0]["source"] == "escalate":
            return _finish_exhausted(runbooks, findings, plan, state, candidates[0]["reason"])
        chosen = candidates[0]
        plan["tried"] = [*plan["tried"], chosen["action_key"]]
        return Step(kind="propose", action=chosen, updates={"plan": plan})


# --- matching and rendering --------------------------------------------------------------------
def _triage_failure(state: AgentState) -> str | None:
    """The error text of this run's triage, if it failed (e.g. the cluster is unreachable)."""
    runs = [
        e for e in state.get("evidence", []) if e.get("tool") == "triage" and e.get("purpose") == "triage"
    ]
    if runs and runs[-1].get("status") == "error":
        return str(runs[-1].get("text", ""))[:400]
    return None


def _kinds(findings: list[dict[str, Any]]) -> list[str]:
    return [str(f.get("kind")) for f in findings]


def suspect(findings: list[dict[str, Any]], service: str | None, hops: int = 3) -> str | None:
    """Follow errors downstream: a caller's connection errors towards an upstream that is itself
    failing point at the upstream (callers inherit their backend's errors)."""
    for _ in range(hops):
        if not service:
            return service
        upstreams = [
            str((f.get("data") or {}).get("upstream"))
            for f in findings
            if f.get("kind") == "connection_errors"
            and (f.get("data") or {}).get("deployment") == service
            and (f.get("data") or {}).get("upstream") not in (None, service)
        ]
        failing = [
            u
            for u in upstreams
            if any(
                g.get("severity") == "critical" and mentions(g, u) and g.get("kind") != "connection_errors"
                for g in findings
            )
        ]
        if not failing:
            return service
        service = failing[0]
    return service


def focus(findings: list[dict[str, Any]], service: str | None) -> list[dict[str, Any]]:
    """The findings about the incident's service, when there are symptoms among them; else all.

    A saturated dependency names who saturates it (``data.clients``, e.g. the database's connection
    pools): their changes are part of the story, so the focus widens to them.
    """
    mine = scoped(findings, [service])
    clients: list[str] = []
    for f in mine:
        data = f.get("data") or {}
        for client in data.get("clients") or []:
            if isinstance(client, str) and client not in clients and client != service:
                clients.append(client)
    return scoped(findings, [service, *clients]) if clients else mine


def render_context(state: AgentState) -> TemplateContext:
    """Values for runbook templates: namespace, service, alertname, finding.<kind>.<key>, label.<name>."""
    incident = state.get("incident", {})
    return TemplateContext.build(
        namespace=incident.get("namespace"),
        service=incident.get("service"),
        alertname=incident.get("alertname"),
        labels=incident.get("labels") or {},
        findings=state.get("findings", []),
    )


def render_args_for(args: dict[str, Any], state: AgentState) -> dict[str, Any] | None:
    """Rendered arguments, or None when a template has no value here (the step is skipped)."""
    try:
        return render_args(args, render_context(state))
    except TemplateError:
        return None


def _diagnostics(runbook: Any, state: AgentState) -> list[ToolCall]:
    calls = []
    for i, diag in enumerate(runbook.diagnostics):
        args = render_args_for(dict(diag.args), state)
        if args is not None:
            calls.append(ToolCall(f"plan-{runbook.id}-d{i}", diag.tool, args))
    return calls


def _proven_fix(ranked: list[dict[str, Any]], signature: str, ctx: ReasonContext) -> dict[str, Any] | None:
    """The candidate that already fixed this exact symptom signature, if learning knows one."""
    if ctx.stats is None or not hasattr(ctx.stats, "proven_fix"):
        return None
    changes = [c for c in ranked if c["source"] != "escalate"]
    key = ctx.stats.proven_fix(signature, [c["action_key"] for c in changes])
    chosen = next((c for c in changes if c["action_key"] == key), None)
    if chosen is None:
        return None
    return {
        **chosen,
        "reason": f"{chosen['reason']}; it fixed this same signature before, diagnostics skipped",
    }


def _signature(incident: dict[str, Any], findings: list[dict[str, Any]]) -> str:
    return signature_for(incident.get("alertname"), _kinds(findings), incident.get("service"))


# --- finishing ---------------------------------------------------------------------------------
def _symptoms(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in findings if is_symptom(f)]


def _finding_lines(findings: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"- [{f.get('severity')}] {f.get('kind')} {f.get('target')}: {f.get('summary')}" for f in findings
    )


def _finish_unmatched(incident: dict[str, Any], findings: list[dict[str, Any]], plan: dict[str, Any]) -> Step:
    what = f"alert {incident['alertname']}" if incident.get("alertname") else "this incident"
    symptoms = _symptoms(findings)
    if not symptoms:
        answer = f"No runbook matches {what}, and triage found nothing wrong.\n" + _finding_lines(findings)
        return Step(kind="finish", answer=answer.strip(), status="no_action_needed", updates={"plan": plan})
    answer = (
        f"No runbook matches {what} and these findings, so the offline planner proposes no change. "
        "A human (or an LLM reasoner: set DEVOPS_AGENT_LLM_BASE_URL) should look at:\n"
        + _finding_lines(symptoms)
    )
    return Step(
        kind="finish",
        answer=answer,
        root_cause=_suspect_text(findings),
        stop_reason="no runbook matches and no change on the failing path can be reverted",
        updates={"plan": plan},
    )


def _finish_cleared(follows: dict[str, Any], findings: list[dict[str, Any]], plan: dict[str, Any]) -> Step:
    parent = follows.get("incident") or "an earlier incident"
    cause = f" ({follows['root_cause']})" if follows.get("root_cause") else ""
    answer = (
        f"This alert group fired with {parent}, whose fix was verified{cause}. Triage finds nothing failing "
        "now, so it is not diagnosed again; if its alert keeps firing once its window has passed, that is for "
        "a human to look at.\n" + _finding_lines(findings)
    )
    return Step(
        kind="finish",
        answer=answer.strip(),
        status="no_action_needed",
        updates={"plan": {**plan, "cleared_by": follows.get("incident")}},
    )


def _cause_text(runbook: Any, requires: list[str], findings: list[dict[str, Any]]) -> str:
    firsts = {str(f.get("kind")): f for f in reversed(findings) if f.get("kind") in requires}
    evidence = [firsts[k] for k in requires if k in firsts] or _symptoms(findings)[:1]
    detail = "; ".join(str(f.get("summary")) for f in evidence)
    return f"{runbook.title} ({runbook.fault_class})" + (f": {detail}" if detail else "")


def _finish_fixed(
    action: dict[str, Any], runbooks: list[Any], findings: list[dict[str, Any]], plan: dict[str, Any]
) -> Step:
    if action.get("runbook") is None and action.get("suspect"):
        change = next(
            (
                f
                for f in findings
                if f.get("kind") in ("suspect_change", "drifted_from_desired")
                and f.get("target") == action.get("suspect")
            ),
            None,
        )
        cause = "a change on the failing path: " + str(
            (change or {}).get("summary") or f"{action.get('args')}"
        )
    else:
        rb = next((r for r in runbooks if r.id == action.get("runbook")), runbooks[0] if runbooks else None)
        cause = _cause_text(rb, list(action.get("requires") or []), findings) if rb else "not determined"
    answer = f"Root cause: {cause}\nMitigated by {action['tool']} {action.get('args')}; verify: {action.get('verify', '')}"
    return Step(kind="finish", answer=answer, root_cause=cause, status="resolved", updates={"plan": plan})


def _finish_exhausted(
    runbooks: list[Any], findings: list[dict[str, Any]], plan: dict[str, Any], state: AgentState, why: str
) -> Step:
    tried = state.get("actions", [])
    name = f"Runbook {runbooks[0].id}" if runbooks else "Nothing"
    if tried:
        lines = "\n".join(
            f"- {a['tool']} {a.get('args')}: {a.get('outcome') or a.get('status')}" for a in tried
        )
        answer = f"{name} has no further remediation to try ({why}). Tried:\n{lines}"
    elif runbooks:
        rb = runbooks[0]
        answer = (
            f"Runbook {rb.id} ({rb.title}) matches, but none of its remediations' preconditions hold for "
            f"these findings ({why}):\n{_finding_lines(findings) or '- (no findings)'}"
        )
    else:
        answer = f"No safe change to propose ({why}). Findings:\n{_finding_lines(findings) or '- (none)'}"
    cause = None
    if _symptoms(findings):
        cause = _cause_text(runbooks[0], [], findings) if runbooks else _suspect_text(findings)
    return Step(kind="finish", answer=answer, root_cause=cause, updates={"plan": plan})


def _suspect_text(findings: list[dict[str, Any]]) -> str | None:
    suspects = [f for f in findings if f.get("kind") == "suspect_change"]
    return f"suspected: {suspects[0].get('summary')}" if suspects else None
