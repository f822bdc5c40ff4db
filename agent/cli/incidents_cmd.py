"""`devops-agent incidents list|show`.

``incidents report`` (the postmortem from memory) lives in agent/cli/knowledge_cmd.py, which imports
``incidents_app`` from here and attaches itself to it (the `incidents` entry in agent/cli/__init__.py
loads both).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markdown import Markdown
from rich.table import Table

from agent.approvals import ApprovalStore
from agent.audit import AuditLog
from agent.cli import app
from agent.cli.common import console, fail, print_json, settings

incidents_app = typer.Typer(help="Incidents the agent handled or is handling.", no_args_is_help=True)
app.add_typer(incidents_app, name="incidents")


def incident_rows(
    audit: AuditLog, approvals: ApprovalStore, limit: int | None = None
) -> list[dict[str, Any]]:
    """One row per incident (newest first) from the audit log: when, what, status."""
    by_id: dict[str, dict[str, Any]] = {}
    for row in audit.rows():
        if not row.incident_id or row.kind not in ("run_started", "run_finished"):
            continue
        item = by_id.setdefault(
            row.incident_id, {"id": row.incident_id, "started": row.ts, "status": "running"}
        )
        if row.kind == "run_started":
            item.setdefault("title", row.data.get("title"))
            item.setdefault("namespace", row.data.get("namespace"))
            item.setdefault("service", row.data.get("service"))
            item["status"] = "running"
        else:
            item["status"] = row.data.get("status") or "?"
            item["root_cause"] = row.data.get("root_cause")
        item["updated"] = row.ts
    for req in approvals.list(status="pending"):
        if req.incident_id in by_id:
            by_id[req.incident_id]["status"] = "awaiting_approval"
            by_id[req.incident_id]["approval"] = req.id
    rows = sorted(by_id.values(), key=lambda r: r["updated"], reverse=True)
    return rows[:limit] if limit else rows


def print_incidents(audit: AuditLog, approvals: ApprovalStore, limit: int | None = 20) -> None:
    rows = incident_rows(audit, approvals, limit)
    if not rows:
        console.print('no incidents yet; start one with `devops-agent investigate "..."`')
        return
    table = Table("incident", "started", "status", "where", "title")
    for r in rows:
        where = f"{r.get('namespace') or ''}/{r.get('service') or ''}"
        table.add_row(
            r["id"],
            str(r["started"])[:19],
            r["status"] + (f" ({r['approval']})" if r.get("approval") else ""),
            where,
            str(r.get("title") or "")[:60],
        )
    console.print(table)


def _stores() -> tuple[AuditLog, ApprovalStore]:
    s = settings()
    return AuditLog.open(s), ApprovalStore.open(s)


@incidents_app.command("list")
def list_(
    limit: int = typer.Option(20, "--limit", "-l", help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recent incidents with their status."""
    audit, approvals = _stores()
    if as_json:
        print_json(incident_rows(audit, approvals, limit))
        return
    print_incidents(audit, approvals, limit)


@incidents_app.command("show")
def show(
    incident_id: str, as_json: bool = typer.Option(False, "--json", help="The run outcome as JSON.")
) -> None:
    """The report of one incident (or where its run stands)."""
    from agent.runner import Runner

    s = settings()
    with Runner(s) as runner:
        outcome = runner.outcome(incident_id)
    if outcome is None:
        known = ", ".join(r["id"] for r in incident_rows(*_stores(), limit=5)) or "none yet"
        fail(
            f"no incident {incident_id!r} in {s.data_dir} (recent: {known}); `devops-agent incidents list` shows them"
        )
    if as_json:
        print_json(outcome.to_json())
        return
    if outcome.report:
        console.print(Markdown(outcome.report))
        return
    console.print(f"{outcome.incident_id}: {outcome.title}", highlight=False, markup=False)
    console.print(f"status: {outcome.status}. {outcome.summary}", highlight=False, markup=False)
    for f in outcome.findings:
        line = f"- [{f.get('severity')}] {f.get('kind')} {f.get('target')}: {f.get('summary')}"
        console.print(line, highlight=False, markup=False)
