"""The error budget the guard weighs: the lowest budget left among the SLOs covering a target.

The SLO specs (``settings.slo_dir``) say which deployments a service's SLOs cover (``workloads``,
default the service name) and in which namespace; the budgets come from Prometheus
(``tools.slo.status``). No specs, no covering SLO, or Prometheus not answering: no input, and the
guard decides as it would without SLOs (the reason is kept in ``deps.extra["slo_note"]``).
"""

from __future__ import annotations

from typing import Any

from agent.guard import ErrorBudget
from tools.base import Target
from tools.errors import ToolError
from tools.slo.spec import SLOError, SLOFile, load_slo_dir
from tools.slo.status import BudgetStatus, read_budgets


def load_specs(deps: Any) -> list[SLOFile]:
    """The specs of ``settings.slo_dir``, loaded once per process (an invalid folder raises SLOError)."""
    directory = deps.settings.slo_dir
    if directory is None:
        return []
    cached = deps.extra.get("slo_specs")
    if cached is None or cached[0] != directory:
        cached = (directory, load_slo_dir(directory))
        deps.extra["slo_specs"] = cached
    specs: list[SLOFile] = cached[1]
    return specs


def _label(row: BudgetStatus) -> str:
    extra = ", ".join(f"{k}={v}" for k, v in sorted(row.labels.items()))
    return f"{row.slo_id} ({extra})" if extra else row.slo_id


def error_budget_for(deps: Any, target: Target | None) -> ErrorBudget | None:
    """The budget left of the SLOs covering ``target`` (the lowest), or None."""
    if target is None or target.kind != "Deployment":
        return None
    try:
        specs = [s for s in load_specs(deps) if s.covers(target.namespace, target.name)]
        if not specs:
            return None
        rows = read_budgets(deps.tool_deps)
    except (SLOError, ToolError) as exc:
        deps.extra["slo_note"] = f"error budget unknown: {exc}"
        return None
    services = {s.service for s in specs}
    matching = [
        r
        for r in rows
        if r.service in services
        and r.budget_remaining is not None
        and r.labels.get("namespace", target.namespace) == target.namespace
    ]
    if not matching:
        return None
    worst = min(matching, key=lambda r: r.budget_remaining or 0.0)
    return ErrorBudget(slo=_label(worst), remaining=float(worst.budget_remaining or 0.0))


def slo_report(settings: Any, service: str | None = None) -> dict[str, Any]:
    """Every SLO's status as JSON (the CLI's ``--json`` and ``GET /api/slo``); RuntimeError with the
    reason when Prometheus cannot answer."""
    from agent.deps import build_tool_deps

    deps = build_tool_deps(settings)
    try:
        rows = read_budgets(deps)
    except ToolError as exc:
        raise RuntimeError(str(exc)) from None
    finally:
        close = getattr(deps, "close", None)
        if close is not None:
            close()
    return {
        "prometheus_url": settings.prometheus_url,
        "slos": [r.as_dict() for r in rows if service is None or r.service == service],
    }
