"""Run events and outcomes as plain dicts (``{"type": kind, ...data}``) for serve, Slack and metrics."""

from __future__ import annotations

from typing import Any


def event_dict(event: Any) -> dict[str, Any]:
    """Accept a runner ``RunEvent`` or an already plain dict."""
    if isinstance(event, dict):
        return dict(event)
    data = dict(getattr(event, "data", {}) or {})
    return {
        "type": getattr(event, "kind", "status"),
        "incident_id": getattr(event, "incident_id", None),
        **data,
    }


def outcome_dict(outcome: Any) -> dict[str, Any]:
    """A runner ``RunOutcome`` (or a plain dict from a test's fake runner) as a JSON-ready dict."""
    if isinstance(outcome, dict):
        return dict(outcome)
    return dict(outcome.model_dump(mode="json"))
