"""Folding correlated alert groups into the incident whose investigation ended without a fix
(see :mod:`agent.server.queue`): which run endings fold, whether a service is on the failing path,
and how the folded alerts are listed in the outcome."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

ENDED_UNFIXED = ("escalated", "mitigation_failed")
"""Run endings after which correlated groups on the same failing path fold into the incident."""


def with_folded(outcome: dict[str, Any], alerts: list[str]) -> dict[str, Any]:
    """The outcome with these folded alerts listed (in its report and hand-off too), once each."""
    known = list(outcome.get("folded_alerts") or [])
    new = [a for a in alerts if a not in known]
    if not new:
        return outcome
    out = {**outcome, "folded_alerts": known + new}
    report = str(out.get("report") or "")
    head = "\n## Alerts folded into this incident\n"
    if head not in report:
        report += head + "\nSame failing path, no run of their own:\n"
    out["report"] = report + "".join(f"- {a}\n" for a in new)
    if isinstance(out.get("handoff"), dict):
        out["handoff"] = {**out["handoff"], "folded_alerts": known + new}
    return out


def on_path(service: str | None, path: list[str] | None) -> bool:
    """The service is one of the objects on the parent's failing path (unknown either way: assume so)."""
    if not service or not path:
        return True
    return any(str(p).rsplit("/", 1)[-1] == service for p in path)


AT_WORK = ("queued", "investigating", "awaiting_approval", "acting")
"""Statuses of an incident whose run has not ended (its alerts may have resolved meanwhile)."""


def pick_parent(rows: Sequence[Sequence[Any]]) -> tuple[str, str, list[str] | None, bool] | None:
    """Of the candidate parents (id, status, outcome JSON, closed_at; oldest first), the one a new group
    belongs to: one still at work, else one that ended and is still open, else one a verified fix
    closed. Returns (id, status, failing path, closed); a closed one reads ``resolved``."""
    ranked: list[tuple[int, str, str, list[str] | None, bool]] = []
    for row_id, status, raw, closed_at in rows:
        outcome = json.loads(raw) if raw else {}
        if status == "closed" and outcome.get("status") != "resolved":
            continue  # over, and not by a verified fix: nothing to follow
        rank = 0 if status in AT_WORK else 1 if closed_at is None else 2
        shown = "resolved" if status == "closed" else str(status)
        ranked.append((rank, str(row_id), shown, outcome.get("path"), status == "closed"))
    if not ranked:
        return None
    _, row_id, status, path, closed = min(ranked, key=lambda r: r[0])  # min is stable: the oldest of its rank
    return row_id, status, path, closed
