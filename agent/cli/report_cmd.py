"""`devops-agent report changes|compliance|runbook`: documents written from the audit log and the journal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from agent.cli import app
from agent.cli.common import console, fail, settings
from agent.settings import Settings

report_app = typer.Typer(
    help="Documents from the record: a change log, a compliance report, draft runbooks.", no_args_is_help=True
)
app.add_typer(report_app, name="report")


class Format(StrEnum):
    md = "md"
    json = "json"


_UNTIL = typer.Option(None, "--until", help="End of the period, RFC 3339 (default now).")


def _period(since: str, until: str | None) -> tuple[datetime, datetime]:
    from tools.errors import ToolError
    from tools.journal.query import parse_since

    try:
        end = parse_since(until) if until else datetime.now(UTC)
        start = parse_since(since, now=end)
    except ToolError as exc:
        fail(str(exc))
    if start >= end:
        fail(f"--since {since!r} is not before --until {until!r}: give a period that ends after it starts")
    return start, end


def _stores(cfg: Settings) -> tuple[Any, Any]:
    """The audit log and the journal (None when no journal file exists: the report says what it has)."""
    from agent.audit import AuditLog
    from tools.journal.store import SqliteJournal

    audit_path = cfg.data_dir / "audit.sqlite"
    if not audit_path.exists():
        fail(f"no audit log at {audit_path}: check DEVOPS_AGENT_DATA_DIR (the agent writes it there)")
    journal_path = cfg.effective_journal_path
    return AuditLog(audit_path), SqliteJournal(journal_path) if journal_path.exists() else None


def _emit(text: str, out: Path | None, what: str) -> None:
    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    console.print(f"{what} written to {out}", highlight=False)


@report_app.command("changes")
def changes(
    since: str = typer.Option(
        "7d", "--since", help="Start: a duration back from --until (7d, 12h) or RFC 3339."
    ),
    until: str | None = _UNTIL,
    fmt: Format = typer.Option(Format.md, "--format", help="md (Markdown) or json."),
    out: Path | None = typer.Option(None, "--out", "-o", dir_okay=False, help="Write to this file."),
) -> None:
    """Change log: what changed, why, who approved, the incident, the outcome; outside changes marked."""
    from agent.reports import build
    from agent.reports.changes import changes_json, changes_markdown

    start, end = _period(since, until)
    audit, journal = _stores(settings())
    entries = build.changes(audit, journal, start, end)
    if fmt is Format.json:
        _emit(json.dumps(changes_json(entries, start, end), indent=2), out, "change log")
    else:
        _emit(changes_markdown(entries, start, end), out, "change log")


@report_app.command("compliance")
def compliance(
    since: str = typer.Option(
        "30d", "--since", help="Start: a duration back from --until (30d) or RFC 3339."
    ),
    until: str | None = _UNTIL,
    out: Path | None = typer.Option(
        None, "--out", file_okay=False, help="Write compliance.md and compliance.json into this folder."
    ),
    fmt: Format = typer.Option(Format.md, "--format", help="Without --out: print md or json."),
) -> None:
    """Audit chain, approvals and approvers, auto actions, freeze-window changes, posture, drift.

    Exits 1 when the audit chain fails verification (the report is still written).
    """
    from agent.policy import PolicyError, load_policy
    from agent.reports import build
    from agent.reports.compliance import compliance_markdown

    cfg = settings()
    start, end = _period(since, until)
    try:
        policy = load_policy(cfg.policy_file)
    except PolicyError as exc:
        fail(str(exc))
    audit, journal = _stores(cfg)
    anchors = cfg.audit_anchor_file or cfg.data_dir / "audit-anchors.jsonl"
    report = build.compliance(audit, journal, policy, start, end, anchor_file=anchors, settings=cfg)
    md, js = compliance_markdown(report), json.dumps(report.as_json(), indent=2)
    if out is not None:
        _emit(md, out / "compliance.md", "compliance report (Markdown)")
        _emit(js, out / "compliance.json", "compliance report (JSON)")
    else:
        _emit(js if fmt is Format.json else md, None, "compliance report")
    if not report.chain.ok:
        raise typer.Exit(1)


@report_app.command("runbook")
def runbook(
    incident_id: str = typer.Argument(..., help="A resolved incident (see `devops-agent incidents list`)."),
    out: Path | None = typer.Option(
        None, "--out", file_okay=False, help="Folder for the draft (default DEVOPS_AGENT_RUNBOOK_DRAFTS_DIR)."
    ),
    show: bool = typer.Option(False, "--print", help="Print the draft instead of writing it."),
) -> None:
    """Draft a runbook from a resolved incident, for review (drafts are never loaded as runbooks).

    Matches, diagnostics and the fix that worked come from the incident record and its audit rows.
    """
    from agent.audit import AuditLog
    from agent.cli.knowledge_cmd import _memory
    from agent.reports.runbook_draft import DraftError, draft_runbook, write_draft

    cfg = settings()
    record = _memory(cfg).get(incident_id)
    if record is None:
        fail(f"incident {incident_id!r} is not in memory: check the id with `devops-agent incidents list`")
    if record.status != "resolved":
        fail(
            f"incident {incident_id} is {record.status}, not resolved: only a fix that worked makes a runbook"
        )
    rows = AuditLog(cfg.data_dir / "audit.sqlite").rows(incident_id=incident_id)
    try:
        if show:
            typer.echo(draft_runbook(record, rows)[1], nl=False)
            return
        path = write_draft(record, rows, out or cfg.effective_runbook_drafts_dir)
    except DraftError as exc:
        fail(str(exc))
    console.print(
        f"draft runbook for {incident_id} written to {path}; review it before it goes live", highlight=False
    )
