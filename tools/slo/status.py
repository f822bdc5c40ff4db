"""Error budgets now: what is left, how fast it burns, when it runs out — from the recorded SLO series.

It reads the series the generated rules record (Sloth's names, so rules Sloth generated work as
well): ``slo:sli_error:ratio_rate<W>``, ``slo:objective:ratio``, ``slo:time_period:days`` and
``slo:period_error_budget_remaining:ratio``. One row per SLO and per extra label set its SLI keeps
(``sum by (namespace)`` gives one row per namespace).

- **burn rate** over W: the error ratio over W divided by the budget (1 = the budget lasts exactly
  the period; 14.4 over 1h = 2% of a 30-day budget gone in that hour);
- **budget left**: 1 - the error ratio over the period / the budget (below 0: overspent);
- **time to exhaustion**: at the 1h burn rate b, a remaining share r of the budget lasts
  r x period / b.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field

from tools.base import ToolDeps, ToolResult, tool
from tools.budget import shaped
from tools.errors import expected_errors
from tools.kubernetes.shape import table
from tools.prometheus import instant_vector
from tools.slo.rules import PAGE, TICKET, BurnWindow

BURN_WINDOWS = ("5m", "1h", "6h", "1d", "3d")
QUERY = (
    '{__name__=~"slo:sli_error:ratio_rate.+|slo:objective:ratio|slo:time_period:days'
    '|slo:period_error_budget_remaining:ratio"}'
)
_KEEP_OUT = {"__name__", "sloth_window", "sloth_mode", "sloth_spec", "sloth_version"}
State = Literal["ok", "ticket", "page", "exhausted", "no_data"]


@dataclass
class BudgetStatus:
    """One SLO (per label set of its SLI) as it stands now."""

    slo_id: str
    service: str
    slo: str
    labels: dict[str, str]
    objective: float | None = None
    period_days: float | None = None
    error_ratio: dict[str, float] = field(default_factory=dict)
    budget_remaining: float | None = None
    burn_rates: dict[str, float] = field(default_factory=dict)
    hours_to_exhaustion: float | None = None
    state: State = "no_data"

    @property
    def error_budget(self) -> float | None:
        return None if self.objective is None else 1 - self.objective

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(v: float) -> bool:
    return not (math.isnan(v) or math.isinf(v))


def _fires(rates: dict[str, float], pairs: tuple[BurnWindow, ...]) -> bool:
    return any(rates.get(p.long, 0) > p.factor and rates.get(p.short, 0) > p.factor for p in pairs)


def _state(s: BudgetStatus) -> State:
    if s.budget_remaining is None and not s.burn_rates:
        return "no_data"
    if s.budget_remaining is not None and s.budget_remaining <= 0:
        return "exhausted"
    if _fires(s.burn_rates, PAGE):
        return "page"
    if _fires(s.burn_rates, TICKET):
        return "ticket"
    return "ok"


def budget_statuses(samples: list[tuple[dict[str, str], float]]) -> list[BudgetStatus]:
    """Fold the recorded SLO series into one status per SLO and label set."""
    rows: dict[tuple[tuple[str, str], ...], BudgetStatus] = {}
    meta: dict[str, dict[str, float]] = {}
    for labels, value in samples:
        name, sid = labels.get("__name__", ""), labels.get("sloth_id")
        if not sid:
            continue
        if name in ("slo:objective:ratio", "slo:time_period:days"):
            meta.setdefault(sid, {})[name] = value
            continue
        key = tuple(sorted((k, v) for k, v in labels.items() if k not in _KEEP_OUT))
        row = rows.get(key)
        if row is None:
            extra = {k: v for k, v in key if not k.startswith("sloth_")}
            row = rows[key] = BudgetStatus(
                slo_id=sid,
                service=labels.get("sloth_service", ""),
                slo=labels.get("sloth_slo", ""),
                labels=extra,
            )
        if name == "slo:period_error_budget_remaining:ratio":
            row.budget_remaining = value if _finite(value) else None
        elif name.startswith("slo:sli_error:ratio_rate") and _finite(value):
            row.error_ratio[name.removeprefix("slo:sli_error:ratio_rate")] = value
    out = []
    for row in rows.values():
        m = meta.get(row.slo_id, {})
        row.objective = m.get("slo:objective:ratio")
        row.period_days = m.get("slo:time_period:days")
        budget = row.error_budget
        if budget:
            row.burn_rates = {w: row.error_ratio[w] / budget for w in BURN_WINDOWS if w in row.error_ratio}
        burn = row.burn_rates.get("1h")
        if row.budget_remaining is not None and row.period_days and burn:
            row.hours_to_exhaustion = max(row.budget_remaining, 0) * row.period_days * 24 / burn
        row.state = _state(row)
        out.append(row)
    return sorted(out, key=lambda s: (s.service, s.slo, sorted(s.labels.items())))


def read_budgets(deps: ToolDeps) -> list[BudgetStatus]:
    """Every SLO's status from Prometheus; raises ToolError when Prometheus cannot answer."""
    return budget_statuses(instant_vector(deps, QUERY))


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _hours(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v / 24:.1f}d" if v >= 48 else f"{v:.1f}h"


def status_table(rows: list[BudgetStatus]) -> str:
    body = [
        (
            r.service,
            r.slo,
            ",".join(f"{k}={v}" for k, v in sorted(r.labels.items())) or "-",
            _pct(r.objective),
            _pct(r.budget_remaining),
            " ".join(f"{w}:{r.burn_rates[w]:.2g}" for w in BURN_WINDOWS if w in r.burn_rates) or "-",
            _hours(r.hours_to_exhaustion),
            r.state,
        )
        for r in rows
    ]
    return table(
        ("SERVICE", "SLO", "LABELS", "OBJECTIVE", "BUDGET LEFT", "BURN RATE", "EXHAUSTED IN", "STATE"), body
    )


@tool(risk="read", tags=("prometheus", "slo"))
@expected_errors
def slo_status(
    deps: ToolDeps,
    service: Annotated[str | None, Field(description="Only this service's SLOs.")] = None,
) -> ToolResult:
    """Error budgets: budget left, burn rates (5m..3d), time to exhaustion, page/ticket state per SLO.
    Example: slo_status(service="api-gateway")"""
    rows = [r for r in read_budgets(deps) if service is None or r.service == service]
    if not rows:
        which = f" for service {service!r}" if service else ""
        return ToolResult.no_data(
            f"no SLO series{which} in Prometheus: generate the rules with `devops-agent slo generate` "
            "and load them into Prometheus (rule_files)"
        )
    return shaped(deps, "slo_status", status_table(rows), [r.as_dict() for r in rows])
