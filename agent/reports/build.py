"""Assemble the reports from the stores: the audit log, the journal (when one exists), the policy."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from agent.audit import AuditLog, VerifyReport
from agent.policy import Policy
from agent.reports.compliance import ComplianceReport, approvals, auto_actions, in_freeze
from agent.reports.record import MATCH_WINDOW, ChangeEntry, change_log
from agent.reports.sections import REGISTRY, Registry, SectionContext, build_sections
from tools.journal.model import Change
from tools.journal.store import JournalStore


def journal_changes(journal: JournalStore | None, since: datetime, until: datetime) -> list[Change]:
    """Every journal version near the period (a little wider, so edges still match their audit row)."""
    if journal is None:
        return []
    return journal.query(None, since - MATCH_WINDOW, until=until + MATCH_WINDOW)


def changes(
    audit: AuditLog, journal: JournalStore | None, since: datetime, until: datetime
) -> list[ChangeEntry]:
    """The change log of ``[since, until)``."""
    return change_log(audit.rows(), journal_changes(journal, since, until), since, until)


def verify_chain(audit: AuditLog, anchor_file: Path | None) -> tuple[VerifyReport, str]:
    """The chain's verification, and against the published anchors when there are some."""
    from agent.audit_anchor import AnchorError, read_anchors, verify_against

    chain = audit.verify()
    if anchor_file is None or not anchor_file.exists():
        where = f"no anchor file at {anchor_file}" if anchor_file else "no anchor file given"
        return chain, f"not checked: {where} (serve publishes one; see `audit anchor`)"
    if not chain.ok:
        return chain, "not checked: the chain itself failed"
    try:
        anchored = verify_against(audit, anchor_file)
        count = len(read_anchors(anchor_file))
    except AnchorError as exc:
        return chain, f"could not be read: {exc}"
    if not anchored.ok:
        return anchored, f"FAILED against {anchor_file}: {anchored.problem}"
    return chain, f"{count} published heads in {anchor_file} match the chain"


def compliance(
    audit: AuditLog,
    journal: JournalStore | None,
    policy: Policy,
    since: datetime,
    until: datetime,
    *,
    anchor_file: Path | None = None,
    settings: Any = None,
    registry: Registry = REGISTRY,
) -> ComplianceReport:
    """The compliance report of ``[since, until)``."""
    rows = audit.rows()
    chain, anchors = verify_chain(audit, anchor_file)
    entries = change_log(rows, journal_changes(journal, since, until), since, until)
    return ComplianceReport(
        since=since,
        until=until,
        chain=chain,
        anchors=anchors,
        approvals=approvals(rows, policy, since, until),
        auto_actions=auto_actions(rows, since, until),
        freeze=in_freeze(entries, policy),
        sections=build_sections(SectionContext(since, until, policy, settings), registry),
    )
