"""How a run looks in a terminal: progress lines, streamed tokens, inline approvals, the outcome.

Shared by ``investigate`` and ``chat`` (agent/cli/core_cmd.py).
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel

from agent.approvals import ApprovalDecision
from agent.runner import RunEvent, Runner, RunOutcome

STATUS_STYLE = {
    "resolved": "bold green",
    "no_action_needed": "green",
    "escalated": "red",
    "awaiting_approval": "bold yellow",
    "mitigation_failed": "bold red",
    "aborted": "bold red",
}


def _short(args: Any, limit: int = 90) -> str:
    text = json.dumps(args, default=str, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class EventPrinter:
    """Prints run events as they happen; tokens are streamed inline."""

    def __init__(self, console: Console, *, show_tokens: bool = True) -> None:
        self.console = console
        self.show_tokens = show_tokens
        self.streaming = False

    def end_stream(self) -> None:
        if self.streaming:
            self.console.print()
            self.streaming = False

    def __call__(self, event: RunEvent) -> None:
        d = event.data
        if event.kind == "token":
            if self.show_tokens:
                self.console.print(d.get("text", ""), end="", markup=False, highlight=False)
                self.streaming = True
            return
        self.end_stream()
        line = self._line(event.kind, d)
        if line:
            self.console.print(line, highlight=False)

    def _line(self, kind: str, d: dict[str, Any]) -> str | None:
        if kind == "tool_started":
            what = {"dry_run": "dry run", "apply": "applying", "undo": "undoing"}.get(
                str(d.get("purpose")), "calling"
            )
            return f"[dim]  → {what} [cyan]{d.get('tool')}[/] {_short(d.get('args'))}[/]"
        if kind == "tool_finished":
            style = {"ok": "green", "error": "red"}.get(str(d.get("status")), "yellow")
            return f"[dim]    [{style}]{d.get('status')}[/] {str(d.get('summary', '')).splitlines()[0][:100] if d.get('summary') else ''}[/]"
        if kind == "status" and d.get("text"):
            return f"[dim]· {d.get('phase')}: {d.get('text')}[/]"
        if kind == "proposal":
            return f"[bold]proposes[/] [cyan]{d.get('tool')}[/] {_short(d.get('args'))}"
        if kind == "verdict":
            return f"  guard: [bold]{d.get('decision')}[/] — {'; '.join(d.get('reasons') or [])}"
        if kind == "verify":
            return f"  verify: [bold]{d.get('outcome')}[/] — {d.get('detail')}"
        if kind == "action":
            return f"  [bold]{d.get('status')}[/] {d.get('tool')}: {d.get('text', '')}"
        if kind == "warning":
            return f"[yellow]  ! {d.get('text')}[/]"
        return None


def show_approval(console: Console, req: dict[str, Any]) -> None:
    t = req.get("target") or {}
    body = [
        f"[bold]{req.get('tool')}[/] on {t.get('kind')} {t.get('namespace') or ''}/{t.get('name')} (risk {req.get('risk')})",
        f"args: {_short(req.get('args'), 200)}",
        f"why: {req.get('reason') or '-'}",
        f"expected: {req.get('expected_effect') or '-'}",
        f"undo: {(req.get('undo') or {}).get('tool', 'none')} {_short((req.get('undo') or {}).get('args', {}), 120)}",
        f"guard: {'; '.join(req.get('guard_reasons') or [])}",
        f"expires: {req.get('expires_at')}",
    ]
    console.print(
        Panel("\n".join(body), title=f"approval {req.get('id')}", border_style="yellow"), highlight=False
    )
    if req.get("diff"):
        console.print(str(req["diff"]), markup=False, highlight=False)


def ask_approval(
    console: Console, runner: Runner, outcome: RunOutcome, approver: str, printer: EventPrinter
) -> RunOutcome:
    """In a terminal: ask y/n/edit for each approval the run waits for, and resume it."""
    while outcome.status == "awaiting_approval" and outcome.approvals:
        req = outcome.approvals[0]
        show_approval(console, req)
        answer = typer.prompt("approve? [y]es / [n]o / [e]dit arguments", default="n").strip().lower()
        edited = None
        reason = None
        if answer.startswith("e"):
            raw = typer.prompt("edited arguments as JSON", default=json.dumps(req.get("args")))
            try:
                edited = json.loads(raw)
            except json.JSONDecodeError as exc:
                console.print(f"[red]not valid JSON ({exc}); nothing decided[/]")
                continue
            decision = "approve"
        elif answer.startswith("y"):
            decision = "approve"
        else:
            decision = "reject"
            reason = typer.prompt("why (the agent is told)", default="rejected in the terminal")
        outcome = runner.resume(
            req["id"],
            ApprovalDecision(
                approval_id=req["id"], decision=decision, approver=approver, reason=reason, edited_args=edited
            ),
            on_event=printer,
        )
        printer.end_stream()
    return outcome


def show_outcome(console: Console, outcome: RunOutcome, *, report: bool = True) -> None:
    style = STATUS_STYLE.get(outcome.status, "bold")
    console.print(f"\n[{style}]{outcome.status}[/] · incident {outcome.incident_id}", highlight=False)
    if outcome.status == "awaiting_approval":
        for req in outcome.approvals:
            show_approval(console, req)
            console.print(
                f"approve: [bold]devops-agent approvals approve {req['id']}[/]   "
                f"reject: [bold]devops-agent approvals reject {req['id']} --reason '...'[/]",
                highlight=False,
            )
        return
    if report and outcome.report:
        console.print(Markdown(outcome.report))
    elif outcome.summary:
        console.print(outcome.summary, markup=False, highlight=False)


def outcome_json(outcome: RunOutcome) -> dict[str, Any]:
    return outcome.to_json()
