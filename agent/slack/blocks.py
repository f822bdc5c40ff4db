"""Block Kit messages: approval requests, decisions, progress and answers. Pure functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

APPROVE = "devops_agent_approve"
REJECT = "devops_agent_reject"
MAX_DIFF = 2500


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}


def approval_blocks(req: dict[str, Any]) -> list[dict[str, Any]]:
    """The approval request with Approve / Reject buttons tied to the approval id."""
    target = req.get("target") or {}
    where = f"{target.get('kind', '?')} `{(target.get('namespace') or '') + '/' if target.get('namespace') else ''}{target.get('name', '?')}`"
    diff = str(req.get("diff") or "(no diff)")
    if len(diff) > MAX_DIFF:
        diff = (
            diff[:MAX_DIFF]
            + f"\n… ({len(diff) - MAX_DIFF} more characters: `devops-agent approvals show {req['id']}`)"
        )
    undo = req.get("undo") or {}
    fields = [
        f"*Action:* `{req.get('tool')}`",
        f"*Target:* {where}",
        f"*Risk:* {req.get('risk')}",
        f"*Expires:* {str(req.get('expires_at', ''))[:19].replace('T', ' ')} UTC",
    ]
    return [
        _section(f":warning: *Approval needed* — `{req['id']}`"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        _section(
            f"*Reason:* {req.get('reason') or '—'}\n*Expected effect:* {req.get('expected_effect') or '—'}"
            + (f"\n*Undo:* `{undo.get('tool')}` {undo.get('args')}" if undo else "")
        ),
        _section(f"*Dry-run diff:*\n```{diff}```"),
        {
            "type": "actions",
            "block_id": f"approval:{req['id']}",
            "elements": [
                {
                    "type": "button",
                    "action_id": APPROVE,
                    "style": "primary",
                    "value": req["id"],
                    "text": {"type": "plain_text", "text": "Approve"},
                },
                {
                    "type": "button",
                    "action_id": REJECT,
                    "style": "danger",
                    "value": req["id"],
                    "text": {"type": "plain_text", "text": "Reject"},
                },
            ],
        },
    ]


def decided_blocks(original: list[dict[str, Any]], line: str) -> list[dict[str, Any]]:
    """The same message without its buttons, with who decided and when."""
    kept = [b for b in original if b.get("type") != "actions"]
    return [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}]


def decision_line(decision: str, user: str, at: datetime) -> str:
    verb = {"approve": ":white_check_mark: approved", "reject": ":x: rejected"}.get(decision, decision)
    return f"{verb} by <@{user}> at {at:%Y-%m-%d %H:%M:%S} UTC"


def incident_line(incident: dict[str, Any]) -> str:
    labels = incident.get("common_labels") or {}
    sev = incident.get("severity") or labels.get("severity") or "?"
    where = "/".join(x for x in (incident.get("namespace"), incident.get("service")) if x)
    summary = ""
    for a in incident.get("alerts") or []:
        summary = (a.get("annotations") or {}).get("summary", "")
        if summary:
            break
    return (
        f":rotating_light: *{incident.get('alertname')}* ({sev}) {where} — {summary} `{incident.get('id')}`"
    )


def progress_text(
    lines: list[str], verb: str = "Investigating", limit: int = 12, *, finished: bool = False
) -> str:
    """The status message of a run in progress (``verb…``) or finished (``verb``), last steps shown."""
    shown = lines[-limit:]
    more = f"_… {len(lines) - limit} earlier steps_\n" if len(lines) > limit else ""
    return f":mag: {verb}{'' if finished else '…'}\n" + more + "\n".join(shown)


def event_line(event: dict[str, Any]) -> str | None:
    """A one-line status for a runner progress event, or None to skip it.

    Tool summaries are often a heading over a table (``k8s_list``, ``triage``, a diff); like the
    CLI, only their first line is shown, so one event stays one line of the status message.
    """
    kind = event.get("type")
    if kind == "tool_started":
        return f"• `{event.get('tool')}` {_args(event.get('args'))}"
    if kind == "tool_finished":
        return f"  ↳ {event.get('status', 'ok')}: {_first_line(event.get('summary'), 120)}"
    if kind == "approval_requested":
        approval = event.get("approval") or {}
        return f"• waiting for approval `{approval.get('id') or event.get('approval_id')}`"
    if kind == "action":
        return f"• action `{event.get('tool')}`: {event.get('status')} {_first_line(event.get('text'), 100)}"
    if kind == "verify":
        detail = _first_line(event.get("detail") or event.get("text"), 120)
        return f"• verify: {event.get('outcome') or '?'}" + (f" — {detail}" if detail else "")
    return None


STATUS_ICON = {
    "resolved": ":white_check_mark:",
    "awaiting_approval": ":raised_hand:",
    "mitigation_failed": ":x:",
    "no_action_needed": ":information_source:",
    "escalated": ":rotating_light:",
    "aborted": ":warning:",
}
MAX_FINDINGS = 3


def answer_text(outcome: dict[str, Any]) -> str:
    """A run's outcome (``RunOutcome`` as a dict) as the thread's answer.

    While a change waits for approval the run has no root cause yet and its summary only names the
    request, so the answer lists the findings that led to it: what the approver decides on.
    """
    status = str(outcome.get("status") or "?")
    body = str(outcome.get("summary") or outcome.get("root_cause") or "")
    rc = outcome.get("root_cause")
    text = f"{STATUS_ICON.get(status, '')} *{status}*"
    if rc and rc not in body:
        text += f"\n*Root cause:* {rc}"
    if body:
        text += f"\n{body}"
    if status == "awaiting_approval" and not rc:
        text += findings_text(outcome.get("findings") or [])
    return text


def handoff_text(incident: dict[str, Any], handoff: dict[str, Any]) -> str:
    """The page for an escalated incident: the hand-off, broadcast from its thread to the channel."""
    lines = [
        f"<!here> :rotating_light: *{incident.get('id')} needs a human*: "
        + _first_line("; ".join(handoff.get("why") or []), 300),
        f"*Known:* {_first_line(handoff.get('known'), 300)}",
    ]
    for s in (handoff.get("suspects") or [])[:2]:
        lines.append(f"*Suspect change:* `{s.get('target')}` {_first_line(s.get('summary'), 200)}")
        for d in (s.get("diff") or [])[:4]:
            lines.append(f"    `{d.get('path')}`: {d.get('old')!r} → {d.get('new')!r}")
    tried = handoff.get("tried") or []
    lines.append(
        "*Tried:* "
        + (
            ", ".join(f"`{t.get('tool')}` → {t.get('outcome')}" for t in tried)
            or "nothing (no safe change found)"
        )
    )
    if handoff.get("folded_alerts"):
        lines.append("*Folded alerts:* " + ", ".join(handoff["folded_alerts"][:8]))
    cmds = "\n".join(handoff.get("next") or [])
    if cmds:
        lines.append(f"*Next:*\n```{cmds}```")
    return "\n".join(lines)[:3400]


def findings_text(findings: list[dict[str, Any]], limit: int = MAX_FINDINGS) -> str:
    """The first findings (triage ranks them: the service's own symptoms first), one line each."""
    if not findings:
        return ""
    lines = [
        f"• [{f.get('severity')}] {f.get('kind')} `{f.get('target')}`: {_first_line(f.get('summary'), 200)}"
        for f in findings[:limit]
    ]
    more = f"\n_… {len(findings) - limit} more_" if len(findings) > limit else ""
    return "\n*Findings:*\n" + "\n".join(lines) + more


def _first_line(value: Any, limit: int) -> str:
    text = str(value or "").strip()
    return text.splitlines()[0][:limit] if text else ""


def _args(args: Any) -> str:
    if not isinstance(args, dict):
        return ""
    text = ", ".join(f"{k}={v}" for k, v in args.items() if v not in (None, "", [], {}))
    return text[:100]
