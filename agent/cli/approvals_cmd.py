"""`devops-agent approvals list|show|approve|reject`."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from agent.approvals import POSTURE_PREFIX, ApprovalDecision, ApprovalError, ApprovalStore
from agent.cli import app
from agent.cli.common import console, fail, print_json, settings, whoami

approvals_app = typer.Typer(help="List and decide pending approval requests.", no_args_is_help=True)
app.add_typer(approvals_app, name="approvals")


def _store() -> ApprovalStore:
    return ApprovalStore.open(settings())


@approvals_app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="Include decided and expired requests."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List approval requests (pending only, unless --all)."""
    reqs = _store().list(status=None if all_ else "pending")
    if as_json:
        print_json([ApprovalStore.to_json(r) for r in reqs])
        return
    if not reqs:
        console.print("no pending approvals" if not all_ else "no approval requests")
        return
    table = Table("id", "status", "incident", "action", "target", "risk", "expires")
    for r in reqs:
        t = r.target
        table.add_row(
            r.id,
            r.status,
            r.incident_id,
            r.tool,
            f"{t.kind} {t.namespace or ''}/{t.name}",
            r.risk,
            f"{r.expires_at:%H:%M:%S}",
        )
    console.print(table)


@approvals_app.command("show")
def show(approval_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show one request: action, target, reason, dry-run diff, expected effect, undo."""
    try:
        r = _store().get(approval_id)
    except ApprovalError as exc:
        fail(str(exc))
    if as_json:
        print_json(ApprovalStore.to_json(r))
        return
    console.print(f"[bold]{r.id}[/]  {r.status}  incident {r.incident_id}")
    console.print(f"action:   {r.tool} {json.dumps(r.args)}")
    console.print(f"target:   {r.target.kind} {r.target.namespace or ''}/{r.target.name}  risk={r.risk}")
    console.print(f"reason:   {r.reason}")
    console.print(f"expected: {r.expected_effect}")
    if r.undo:
        console.print(f"undo:     {r.undo.tool} {json.dumps(r.undo.args)}")
    console.print(f"expires:  {r.expires_at:%Y-%m-%d %H:%M:%S} UTC")
    if r.guard_reasons:
        console.print("why asked: " + "; ".join(r.guard_reasons))
    console.print("dry-run diff:")
    console.print(r.diff or "(none)", highlight=False, markup=False)


def _decide_detached(decision: ApprovalDecision) -> None:
    """A request made over MCP: no paused run waits for it; the MCP client applies it once approved."""
    from agent.audit import AuditLog
    from agent.mcp_calls import decide_detached
    from agent.policy import load_policy

    s = settings()
    try:
        req = decide_detached(_store(), load_policy(s.policy_file), AuditLog.open(s), decision)
    except ApprovalError as exc:
        fail(str(exc))
    posture = req.incident_id.startswith(POSTURE_PREFIX)
    console.print(
        f"{req.status} {req.id} as {decision.approver} "
        f"({'proposed by devops-agent posture --fix' if posture else 'requested over MCP'})"
    )
    if req.status == "approved":
        how = (
            f"devops-agent posture --apply {req.id}"
            if posture
            else f"the MCP client applies it once with apply_approved(approval_id={req.id!r})"
        )
        console.print(f"nothing is applied yet: {how}", highlight=False)


def _resume(approval_id: str, decision: ApprovalDecision) -> None:
    from agent.runner import Runner  # heavy: only when a decision is made

    try:
        if _store().get(approval_id).detached:
            _decide_detached(decision)
            return
    except ApprovalError as exc:
        fail(str(exc))
    try:
        outcome = Runner(settings()).resume(approval_id, decision)
    except ApprovalError as exc:
        fail(str(exc))
    console.print(
        f"{decision.decision}d {approval_id} as {decision.approver}; incident {outcome.incident_id} "
        f"is now [bold]{outcome.status}[/]"
    )
    if outcome.summary:
        console.print(outcome.summary, highlight=False, markup=False)


@approvals_app.command("approve")
def approve(
    approval_id: str,
    as_: str | None = typer.Option(None, "--as", help="Approver identity (default: cli:USER@HOST)."),
    args: str | None = typer.Option(
        None, "--args", help="Edited arguments as JSON; re-checked by the guard."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why (recorded in the audit log)."),
) -> None:
    """Approve a request: the paused run resumes and executes the action once."""
    edited = None
    if args:
        try:
            edited = json.loads(args)
        except json.JSONDecodeError as exc:
            fail(f"--args is not valid JSON ({exc}); example: --args '{{\"replicas\": 4}}'")
        if not isinstance(edited, dict):
            fail("--args must be a JSON object of argument names to values")
    decision = ApprovalDecision(
        approval_id=approval_id,
        decision="approve",
        approver=as_ or whoami(),
        reason=reason,
        edited_args=edited,
    )
    _resume(approval_id, decision)


@approvals_app.command("reject")
def reject(
    approval_id: str,
    reason: str = typer.Option(..., "--reason", "-r", help="Why; the agent is told and reasons again."),
    as_: str | None = typer.Option(None, "--as", help="Approver identity (default: cli:USER@HOST)."),
) -> None:
    """Reject a request: the run goes back to reasoning, told why."""
    decision = ApprovalDecision(
        approval_id=approval_id, decision="reject", approver=as_ or whoami(), reason=reason
    )
    _resume(approval_id, decision)
