"""Folding correlated alert groups into the incident whose investigation ended without a fix
(see :mod:`agent.server.queue`): which run endings fold, whether a service is on the failing path,
and how the folded alerts are listed in the outcome."""

from __future__ import annotations

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
