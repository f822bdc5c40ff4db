"""`devops-agent audit show|verify`."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from agent.audit import AuditLog
from agent.cli import app
from agent.cli.common import console, err_console, print_json, settings

audit_app = typer.Typer(help="Read and verify the tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _log() -> AuditLog:
    return AuditLog(settings().path("audit.sqlite"))


@audit_app.command("show")
def show(
    incident: str | None = typer.Option(None, "--incident", "-i", help="Only rows of this incident."),
    kind: str | None = typer.Option(None, "--kind", help="Only rows of this kind (e.g. action_applied)."),
    limit: int = typer.Option(50, "--limit", "-n", help="The last N rows."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON rows."),
) -> None:
    """Print the audit log (newest last)."""
    rows = _log().rows(incident_id=incident, kind=kind, limit=limit)
    if as_json:
        print_json([r.model_dump() for r in rows])
        return
    table = Table("id", "time", "kind", "incident", "actor", "data", show_lines=False)
    for r in rows:
        data = json.dumps(r.data, default=str)
        table.add_row(
            str(r.id),
            r.ts[:19],
            r.kind,
            r.incident_id or "",
            r.actor,
            data[:100] + ("…" if len(data) > 100 else ""),
        )
    console.print(table)


@audit_app.command("verify")
def verify() -> None:
    """Check the hash chain; exit 1 naming the first bad row when a row was altered or removed."""
    report = _log().verify()
    if report.ok:
        console.print(f"[green]audit log intact[/]: {report.rows_checked} rows, hash chain verified")
        return
    err_console.print(
        f"[bold red]AUDIT LOG TAMPERED[/]: first bad row {report.first_bad_id}: {report.problem}"
    )
    raise typer.Exit(1)
