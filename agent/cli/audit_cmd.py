"""`devops-agent audit show|verify`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from agent.audit import AuditLog
from agent.cli import app
from agent.cli.common import console, err_console, print_json, settings

audit_app = typer.Typer(help="Read and verify the tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _log() -> AuditLog:
    return AuditLog.open(settings())


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


def _anchor_file() -> Path:
    cfg = settings()
    return cfg.audit_anchor_file or cfg.path("audit-anchors.jsonl")


@audit_app.command("verify")
def verify(
    against: Path | None = typer.Option(
        None,
        "--against",
        help="An anchor export (JSON lines of published heads, see `audit anchor`): also catch a chain "
        "rebuilt from scratch, which the chain alone cannot show.",
    ),
) -> None:
    """Check the hash chain; exit 1 naming the first bad row when a row was altered or removed."""
    from agent.audit_anchor import AnchorError, verify_against

    try:
        report = verify_against(_log(), against) if against is not None else _log().verify()
    except AnchorError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if report.ok:
        extra = f", and it matches every anchor in {against}" if against is not None else ""
        console.print(f"[green]audit log intact[/]: {report.rows_checked} rows, hash chain verified{extra}")
        return
    err_console.print(
        f"[bold red]AUDIT LOG TAMPERED[/]: first bad row {report.first_bad_id}: {report.problem}"
    )
    raise typer.Exit(1)


@audit_app.command("anchor")
def anchor(
    to: Path | None = typer.Option(
        None, "--to", help="The anchor file to append to (default DEVOPS_AGENT_AUDIT_ANCHOR_FILE)."
    ),
) -> None:
    """Publish the chain's head now: append rows and hash to the anchor file (serve does it periodically)."""
    from agent.audit_anchor import publish_head

    path = to or _anchor_file()
    published = publish_head(_log(), path)
    rows, digest = _log().head()
    state = "anchored" if published else "already anchored"
    console.print(f"audit head {state} in {path}: rows={rows} hash={digest}")
