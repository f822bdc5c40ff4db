"""verify: re-read the signals that raised the incident; if they got worse, undo the change.

Signals: the alert's own expression when the alert carried one (``generatorURL``), else whether the
alert is still firing; and the triage findings for the incident's namespace/service. Polled every
``verify_interval_s`` for at most ``verify_timeout_s``:

- ``fixed``: none of the symptoms seen before the change remain, and the alert's signal is clear;
- ``worse``: a new critical symptom appeared — the undo runs at once (audited ``action_undone``);
- ``no_effect``: the time ran out with the symptoms still there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from agent.nodes.common import Ctx, add_action, answer_call, current_action, emit, incident_id, run_tool
from agent.nodes.triage import findings_of, triage_args
from agent.reasoners.base import is_symptom, mentions, scoped
from agent.state import AgentState


def symptoms(findings: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(str(f.get("kind")), str(f.get("target"))) for f in findings if is_symptom(f)}


def critical(findings: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        k
        for k in symptoms(findings)
        if any(f.get("severity") == "critical" and (f.get("kind"), f.get("target")) == k for f in findings)
    }


@dataclass
class Observation:
    findings: list[dict[str, Any]]
    alert_active: bool | None
    """True/False when the alert's signal could be read; None when there is none or it failed."""


def alert_active(runtime: Ctx, state: AgentState) -> bool | None:
    incident = state["incident"]
    if incident.get("expr"):
        result, _ = run_tool(
            runtime, state, "prometheus_query", {"query": incident["expr"]}, purpose="verify"
        )
        if result.status == "error":
            return None
        return result.status == "ok" and bool(result.data)
    if incident.get("alertname"):
        result, _ = run_tool(runtime, state, "prometheus_alerts", {"state": "firing"}, purpose="verify")
        if result.status == "error":
            return None
        items = result.data if isinstance(result.data, list) else []
        return any(_alertname(a) == incident["alertname"] and _same_place(a, incident) for a in items)
    return None


def _alertname(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    return item.get("alertname") or (item.get("labels") or {}).get("alertname")


def _same_place(item: dict[str, Any], incident: dict[str, Any]) -> bool:
    """The firing alert is the incident's own: same namespace, and the same service and severity
    where both carry them (a slow-burn warning of the same name is another alert)."""
    labels = item.get("labels") or item
    ns = labels.get("namespace")
    if ns is not None and ns != incident.get("namespace"):
        return False
    own = incident.get("labels") or {}
    for key in ("service", "severity", "deployment", "pod", "node"):
        if key in labels and key in own and labels[key] != own[key]:
            return False
    return True


def findings_now(runtime: Ctx, state: AgentState) -> list[dict[str, Any]]:
    """Triage's findings at this moment (none if triage fails)."""
    result, _ = run_tool(runtime, state, "triage", triage_args(state["incident"]), purpose="verify")
    return findings_of(result.data) if result.status == "ok" else []


def observe(runtime: Ctx, state: AgentState) -> Observation:
    return Observation(findings_now(runtime, state), alert_active(runtime, state))


def judge(before: list[dict[str, Any]], obs: Observation) -> tuple[str, str] | None:
    """(outcome, detail) once decided; None to keep polling."""
    was, now = symptoms(before), symptoms(obs.findings)
    new_critical = critical(obs.findings) - was
    if new_critical:
        return "worse", "new critical symptoms: " + ", ".join(f"{k} {t}" for k, t in sorted(new_critical))
    remaining = was & now
    if not remaining and obs.alert_active is not True:
        alert = "" if obs.alert_active is None else "; the alert's signal is clear"
        return "fixed", (
            "the symptoms seen before the change are gone" if was else "no symptoms before or after"
        ) + alert
    return None


def at_deadline(
    before: list[dict[str, Any]], obs: Observation, services: list[str | None], waited_s: float
) -> tuple[str, str]:
    """The verdict when time is up: symptoms still there → no_effect. Symptoms gone but the alert
    still firing → fixed, said plainly: alert expressions average over windows (burn rates over
    30 minutes and more) and clear after the service itself has recovered."""
    now = in_scope(before, obs.findings, services)
    before = scoped(before, services)
    left = symptoms(before) & symptoms(now)
    if left:
        return "no_effect", f"after {waited_s:.0f} s still: " + ", ".join(f"{k} {t}" for k, t in sorted(left))
    if symptoms(before):
        return "fixed", (
            f"the symptoms seen before the change are gone; after {waited_s:.0f} s the alert's expression "
            "still fires — it averages over a longer window and should clear on its own (watch it)"
        )
    return (
        "no_effect",
        f"after {waited_s:.0f} s the alert is still firing and triage shows no symptom to explain it",
    )


def in_scope(
    before: list[dict[str, Any]], current: list[dict[str, Any]], services: list[str | None]
) -> list[dict[str, Any]]:
    """The current findings judged the way the findings before the change were scoped.

    When the change was about these services (they had symptoms), only findings about them count
    afterwards too: their symptoms gone is "fixed", even if a neighbour blips meanwhile. Falling back
    to the whole namespace once they recovered made a neighbour's brief 5xx look "worse" and undid
    a correct fix.
    """
    names = [s for s in services if s]
    focused = [f for f in before if any(mentions(f, n) for n in names)]
    if names and any(is_symptom(f) for f in focused):
        return [f for f in current if any(mentions(f, n) for n in names)]
    return scoped(current, services)


def _services(state: AgentState, action: dict[str, Any]) -> list[str | None]:
    """What the change was about: the incident's service, the planner's suspect, the action's target."""
    target = ((action.get("effect") or {}).get("target") or {}).get("name")
    args = action.get("args") or {}
    plan = state.get("plan") or {}
    return [
        state["incident"].get("service"),
        plan.get("suspect"),
        target,
        args.get("deployment"),
        args.get("name"),
    ]


def verify_action(state: AgentState, runtime: Ctx) -> dict[str, Any]:
    """Poll the signals after the change; undo it if things got worse."""
    deps = runtime.context
    settings = deps.settings
    action = dict(current_action(state) or {})
    services = _services(state, action)
    # "before" is what the investigation saw plus what act saw right before the change: symptoms
    # that developed while the change waited for approval (or while an earlier fix was verified)
    # were not caused by it, and must not make it look "worse"
    found = [*state.get("findings", []), *(action.get("before") or [])]
    # nothing was applied (already in that state): one look at the signals, not a wait for an
    # effect that cannot come (the eval lost minutes per no-op before the real fix was tried)
    noop = action.get("status") == "noop"
    window_s = 0.0 if noop else settings.verify_timeout_s
    deadline = deps.now() + timedelta(seconds=window_s)
    waited_s = max(window_s, settings.verify_interval_s)  # a no-op still gets one interval's look
    emit(
        runtime,
        "status",
        phase="verify",
        text=f"verifying {action.get('tool')} for up to {waited_s:.0f} s",
    )
    followed_by = [str(x) for x in action.get("followed_by") or []]
    if followed_by and not noop:
        # its effect needs the next step of the runbook (e.g. a restart after a config revert):
        # judging it alone would wait out the timeout and learn a correct first step as "no_effect"
        outcome, detail = "pending", f"applied; its effect shows after {', '.join(followed_by)}"
    else:
        outcome, detail = _poll(runtime, state, found, services, deadline, waited_s=waited_s)
    action.update(outcome=outcome, verify=detail)
    deps.audit.append(
        "verify",
        incident_id=incident_id(state),
        data={"tool": action.get("tool"), "args": action.get("args"), "outcome": outcome, "detail": detail},
    )
    emit(runtime, "verify", tool=action.get("tool"), outcome=outcome, detail=detail)
    if outcome == "worse" and action.get("status") != "noop":
        action = _undo(runtime, state, action)
    if outcome == "fixed":
        action["mitigated_at"] = deps.now().isoformat()
    done = "nothing to apply (already in that state)" if action.get("status") == "noop" else "applied"
    text = f"{done}; verification: {outcome} — {detail}" + (
        f"; {action['undo_note']}" if action.get("undo_note") else ""
    )
    return {
        "actions": add_action(state, action),
        "messages": answer_call(
            list(state.get("messages", [])), (state.get("proposed") or {}).get("call_id"), text
        ),
        "notes": [*state.get("notes", []), f"{action.get('tool')} {action.get('args')}: {text}"],
        "proposed": None,
        "phase": "investigating",
    }


def _poll(
    runtime: Ctx,
    state: AgentState,
    found: list[dict[str, Any]],
    services: list[str | None],
    deadline: Any,
    *,
    waited_s: float,
) -> tuple[str, str]:
    """Re-read the signals every interval until a verdict or the deadline."""
    deps = runtime.context
    before = scoped(found, services)
    while True:
        deps.sleep(deps.settings.verify_interval_s)
        obs = observe(runtime, state)
        verdict = judge(before, Observation(in_scope(found, obs.findings, services), obs.alert_active))
        if verdict is not None:
            return verdict
        if deps.now() >= deadline:
            return at_deadline(before, obs, services, waited_s)


def _undo(runtime: Ctx, state: AgentState, action: dict[str, Any]) -> dict[str, Any]:
    undo = action.get("undo")
    if not undo:
        return {**action, "undo_note": "no undo recipe: a human must revert it"}
    result, _ = run_tool(runtime, state, undo["tool"], undo.get("args") or {}, purpose="undo")
    runtime.context.audit.append(
        "action_undone",
        incident_id=incident_id(state),
        data={"tool": action.get("tool"), "undo": undo, "status": result.status, "result": result.text[:400]},
    )
    emit(
        runtime,
        "action",
        tool=undo["tool"],
        status="undone" if result.status == "ok" else "undo_failed",
        text=result.text[:200],
    )
    if result.status == "error":
        return {**action, "undo_note": f"the undo ({undo['tool']}) failed: {result.text}"}
    return {**action, "status": "undone", "undo_note": f"undone with {undo['tool']}"}
