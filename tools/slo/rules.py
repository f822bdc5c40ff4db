"""Prometheus recording and alerting rules from SLO specs, with Sloth's names and windows.

Per SLO, three groups (as Sloth generates them, so Sloth's Grafana dashboards work unchanged):

- SLI recordings ``slo:sli_error:ratio_rate<W>`` for W in 5m 30m 1h 2h 6h 1d 3d (the error query over
  the total query), and the period ratio ``slo:sli_error:ratio_rate<period>`` as the mean of the 5m
  ratio over the period;
- metadata: objective, error budget, period in days, current (5m) and period burn rates, the budget
  left over the period, and ``sloth_slo_info``;
- two multi-window, multi-burn-rate alerts (Google SRE workbook, ch. 5): **page** when the error
  rate exceeds 14.4x the budget over 1h and 5m, or 6x over 6h and 30m; **ticket** at 3x over 1d and 2h,
  or 1x over 3d and 6h. The long window says the burn is real, the short one that it is still going
  on (so the alert resolves soon after the errors stop).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from tools.slo.spec import SLO, WINDOW_PLACEHOLDER, SLOFile, slo_id

SLI_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
SLI_METRIC = "slo:sli_error:ratio_rate{window}"


@dataclass(frozen=True)
class BurnWindow:
    """One window pair of an alert: fires when both windows burn faster than ``factor``."""

    factor: float
    long: str
    short: str


PAGE = (BurnWindow(14.4, "1h", "5m"), BurnWindow(6, "6h", "30m"))
TICKET = (BurnWindow(3, "1d", "2h"), BurnWindow(1, "3d", "6h"))
SEVERITIES: dict[Literal["page", "ticket"], tuple[BurnWindow, ...]] = {"page": PAGE, "ticket": TICKET}


def _ids(spec: SLOFile, slo: SLO) -> dict[str, str]:
    return {"sloth_id": slo_id(spec.service, slo), "sloth_service": spec.service, "sloth_slo": slo.name}


def _selector(ids: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in ids.items()) + "}"


def _sli_expr(slo: SLO, window: str) -> str:
    events = slo.sli.events
    err = events.error_query.replace(WINDOW_PLACEHOLDER, window)
    total = events.total_query.replace(WINDOW_PLACEHOLDER, window)
    return f"({err})\n/\n({total})\n"


def _sli_group(spec: SLOFile, slo: SLO, common: dict[str, str]) -> dict[str, Any]:
    ids = _ids(spec, slo)
    rules: list[dict[str, Any]] = [
        {
            "record": SLI_METRIC.format(window=w),
            "expr": _sli_expr(slo, w),
            "labels": dict(sorted({**common, "sloth_window": w}.items())),
        }
        for w in SLI_WINDOWS
    ]
    five = SLI_METRIC.format(window="5m") + _selector(ids)
    rules.append(
        {
            "record": SLI_METRIC.format(window=slo.window),
            "expr": (
                f"sum_over_time({five}[{slo.window}])\n/ ignoring (sloth_window)\n"
                f"count_over_time({five}[{slo.window}])\n"
            ),
            # Sloth labels this rule with sloth_window alone; two SLOs in one file then make rules
            # promtool's linter calls duplicates. The ids (which sum_over_time keeps anyway) tell
            # them apart without changing a single resulting series.
            "labels": {**ids, "sloth_window": slo.window},
        }
    )
    return {"name": f"sloth-slo-sli-recordings-{ids['sloth_id']}", "rules": rules}


def _meta_group(spec: SLOFile, slo: SLO, common: dict[str, str]) -> dict[str, Any]:
    ids = _ids(spec, slo)
    sel = _selector(ids)
    on = "on(sloth_id, sloth_slo, sloth_service) group_left"
    objective = slo.objective / 100
    exprs = [
        ("slo:objective:ratio", f"vector({objective!r})"),
        ("slo:error_budget:ratio", f"vector(1-{objective!r})"),
        ("slo:time_period:days", f"vector({slo.window_days})"),
        (
            "slo:current_burn_rate:ratio",
            f"{SLI_METRIC.format(window='5m')}{sel}\n/ {on}\nslo:error_budget:ratio{sel}\n",
        ),
        (
            "slo:period_burn_rate:ratio",
            f"{SLI_METRIC.format(window=slo.window)}{sel}\n/ {on}\nslo:error_budget:ratio{sel}\n",
        ),
        ("slo:period_error_budget_remaining:ratio", f"1 - slo:period_burn_rate:ratio{sel}"),
    ]
    rules: list[dict[str, Any]] = [{"record": r, "expr": e, "labels": common} for r, e in exprs]
    info = {
        **common,
        "sloth_mode": "cli-gen-prom",
        "sloth_spec": spec.version,
        "sloth_version": "devops-agent",
    }
    rules.append({"record": "sloth_slo_info", "expr": "vector(1)", "labels": dict(sorted(info.items()))})
    return {"name": f"sloth-slo-meta-recordings-{ids['sloth_id']}", "rules": rules}


def burn_expr(slo: SLO, sel: str, windows: tuple[BurnWindow, ...]) -> str:
    """``(long > f*budget and short > f*budget) or (...)`` over the recorded SLI ratios."""
    budget = slo.error_budget
    pairs = []
    for bw in windows:
        factor = f"{bw.factor:g}"
        long = f"({SLI_METRIC.format(window=bw.long)}{sel} > ({factor} * {budget!r}))"
        short = f"({SLI_METRIC.format(window=bw.short)}{sel} > ({factor} * {budget!r}))"
        pairs.append(f"(\n    {short}\n    and ignoring (sloth_window)\n    {long}\n)")
    return "\nor ignoring (sloth_window)\n".join(pairs) + "\n"


def _alert_group(spec: SLOFile, slo: SLO) -> dict[str, Any] | None:
    alerting = slo.alerting
    sel = _selector(_ids(spec, slo))
    rules = []
    for severity, windows in SEVERITIES.items():
        conf = alerting.page_alert if severity == "page" else alerting.ticket_alert
        if conf.disable:
            continue
        labels = {**alerting.labels, **conf.labels, "sloth_severity": severity}
        annotations = {
            "summary": f"{{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget burn rate is over the expected {severity} threshold.",
            "title": f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget burn rate is too fast.",
            **alerting.annotations,
            **conf.annotations,
        }
        rules.append(
            {
                "alert": alerting.name,
                "expr": burn_expr(slo, sel, windows),
                "labels": dict(sorted(labels.items())),
                "annotations": dict(sorted(annotations.items())),
            }
        )
    if not rules:
        return None
    return {"name": f"sloth-slo-alerts-{slo_id(spec.service, slo)}", "rules": rules}


def rule_groups(
    specs: list[SLOFile], interval: str | None = None, *, alerts: bool = True
) -> list[dict[str, Any]]:
    """The rule groups of every SLO of every spec, in order; ``interval`` sets each group's;
    ``alerts=False`` leaves out the alert groups (recordings only)."""
    groups: list[dict[str, Any]] = []
    for spec in specs:
        for slo in spec.slos:
            common = dict(sorted({**spec.labels, **slo.labels, **_ids(spec, slo)}.items()))
            made: list[dict[str, Any] | None] = [
                _sli_group(spec, slo, common),
                _meta_group(spec, slo, common),
            ]
            if alerts:
                made.append(_alert_group(spec, slo))
            groups.extend(g for g in made if g is not None)
    if interval:
        groups = [{"name": g["name"], "interval": interval, "rules": g["rules"]} for g in groups]
    return groups


class _Literal(str):
    """A string YAML writes as a ``|`` block (multi-line PromQL stays readable)."""


def _literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def render_rules(specs: list[SLOFile], interval: str | None = None, *, alerts: bool = True) -> str:
    """The rule file's YAML, with a header naming its sources."""
    groups = rule_groups(specs, interval, alerts=alerts)
    for g in groups:
        for r in g["rules"]:
            r["expr"] = _Literal(r["expr"])
    sources = ", ".join(sorted({Path(s.source).name for s in specs if s.source})) or "(inline)"
    head = f"# Generated by `devops-agent slo generate` from SLO specs; do not edit.\n# Sources: {sources}\n"
    body = yaml.dump({"groups": groups}, Dumper=_Dumper, sort_keys=False, width=10_000)
    return head + body
