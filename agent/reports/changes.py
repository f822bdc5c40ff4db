"""``report changes``: the change log as Markdown or JSON, from :func:`agent.reports.record.change_log`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from agent.reports.record import ChangeEntry

MAX_FIELDS = 8


def stamp(at: datetime) -> str:
    """``2026-11-23 10:02:03`` in UTC, the one time format of every report."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def cell(text: str | None, limit: int = 80) -> str:
    """Text fit for one Markdown table cell: one line, pipes escaped, cut to ``limit``."""
    flat = " ".join(str(text or "").split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def summary(entries: Sequence[ChangeEntry]) -> dict[str, Any]:
    """Counts: by whom, and the outcome of the agent's changes."""
    agent = [e for e in entries if e.by_agent]
    return {
        "changes": len(entries),
        "by_agent": len(agent),
        "outside_agent": len(entries) - len(agent),
        "outcomes": dict(sorted(Counter(e.outcome for e in agent).items())),
    }


def changes_json(entries: Sequence[ChangeEntry], since: datetime, until: datetime) -> dict[str, Any]:
    return {
        "report": "changes",
        "since": since.astimezone(UTC).isoformat(),
        "until": until.astimezone(UTC).isoformat(),
        "summary": summary(entries),
        "changes": [e.model_dump(mode="json") for e in entries],
    }


def _summary_line(entries: Sequence[ChangeEntry]) -> str:
    s = summary(entries)
    outcomes = ", ".join(f"{n} {k}" for k, n in s["outcomes"].items())
    agent = f"{s['by_agent']} by the agent" + (f" ({outcomes})" if outcomes else "")
    return f"{s['changes']} changes: {agent}, {s['outside_agent']} made outside the agent."


def _what(e: ChangeEntry) -> str:
    if e.tool:
        return e.tool
    return e.fields[0] if e.fields else "(edit)"


def _table(entries: Sequence[ChangeEntry]) -> list[str]:
    lines = [
        "| when (UTC) | object | change | by | approved by | incident | outcome |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        by = "agent" if e.by_agent else f"outside: {e.actor}"
        lines.append(
            f"| {stamp(e.at)} | {cell(e.object)} | {cell(_what(e), 60)} | {cell(by)} "
            f"| {cell(e.approved_by or '—')} | {cell(e.incident_id or '—')} | {cell(e.outcome)} |"
        )
    return lines


def _details(e: ChangeEntry) -> list[str]:
    head = f"### {stamp(e.at)} — {e.object}" + (f" — {e.tool}" if e.tool else " — made outside the agent")
    out = [head, ""]
    if e.args:
        args = ", ".join(f"{k}={v}" for k, v in sorted(e.args.items()))
        out.append(f"- **call**: `{e.tool}({cell(args, 200)})`")
    fields = e.fields[:MAX_FIELDS] + (
        [f"… {len(e.fields) - MAX_FIELDS} more field(s)"] if len(e.fields) > MAX_FIELDS else []
    )
    if fields:
        out.append("- **what changed** (journal):")
        out += [f"  - `{cell(f, 160)}`" for f in fields]
    elif e.diff:
        out.append(f"- **what changed** (as the tool said): {cell(e.diff, 200)}")
    if e.by_agent:
        out.append(f"- **why**: {'; '.join(e.why) if e.why else '(no reason recorded)'}")
        approval = f" (approval {e.approval_id})" if e.approval_id else ""
        out.append(f"- **approved by**: {e.approved_by or '(nobody)'}{approval}")
        incident = f"{e.incident_id} — {e.incident}" if e.incident else (e.incident_id or "(none)")
        out.append(f"- **incident**: {cell(incident, 200)}")
    else:
        out.append(f"- **by**: {e.actor} (no audit row: the agent did not make this change)")
    detail = f" — {cell(e.outcome_detail, 200)}" if e.outcome_detail else ""
    out += [f"- **outcome**: {e.outcome}{detail}", ""]
    return out


def changes_markdown(entries: Sequence[ChangeEntry], since: datetime, until: datetime) -> str:
    lines = [
        f"# Change log {stamp(since)} – {stamp(until)} UTC",
        "",
        _summary_line(entries),
        "",
    ]
    if not entries:
        return "\n".join([*lines, "No change was recorded in this period.", ""])
    lines += [*_table(entries), "", "## Details", ""]
    for e in entries:
        lines += _details(e)
    return "\n".join(lines)
