"""Prometheus tools over ``prometheus-api-client`` (the only module that imports it).

Results are shaped by :mod:`tools.promshape`; failures become clear error results: Prometheus's own
parse error plus a hint for a bad query, a plain sentence for an unreachable or slow server.
"""

from __future__ import annotations

import ast
import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NoReturn

import requests
import urllib3
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from tools.base import ToolDeps, ToolResult, tool
from tools.budget import shaped
from tools.errors import BackendUnavailable, ToolError, expected_errors
from tools.kubernetes.shape import age, table
from tools.promshape import fmt, label_str, shape_matrix, shape_vector, split_labels

MAX_POINTS = 120
MIN_STEP_S = 5


def connect(url: str, timeout_s: float) -> PrometheusConnect:
    """A client with a bounded timeout and at most one retry on connection errors."""
    retry = Retry(total=1, read=0, status=0, backoff_factor=0.1)
    return PrometheusConnect(url=url.rstrip("/"), disable_ssl=True, retry=retry, timeout=timeout_s)  # type: ignore[arg-type]


def _prom(deps: ToolDeps) -> PrometheusConnect:
    prom: PrometheusConnect = deps.prometheus()
    return prom


def _hint(query: str, error: str) -> str:
    hints = []
    if query.count("(") != query.count(")") or query.count("{") != query.count("}"):
        hints.append("brackets are unbalanced")
    if (
        re.search(r"\b(rate|irate|increase|delta|deriv|\w+_over_time)\s*\([^\[\]]*\)", query)
        and "[" not in query
    ):
        hints.append("rate()/increase()/*_over_time() need a range selector such as metric[5m]")
    if re.search(r'\{[^}]*=\s*[A-Za-z_][^"\'},]*[,}]', query):
        hints.append('label values must be quoted: {namespace="shop"}')
    if "unknown function" in error or "not defined" in error:
        hints.append("check the function name in the PromQL reference")
    hints.append("use prometheus_metric_names / prometheus_labels to check names")
    return "; ".join(hints)


def _call(prom: PrometheusConnect, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a client call, turning transport and API errors into ToolErrors."""
    try:
        return fn(*args, **kwargs)
    except requests.exceptions.RequestException as exc:
        _raise_transport(prom, what, exc)
    except PrometheusApiClientException as exc:
        raise ToolError(_api_error(str(exc), what)) from exc


def _is_timeout(exc: BaseException) -> bool:
    """True for a timeout, also when urllib3's retry wrapped it in a ConnectionError."""
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, urllib3.exceptions.NewConnectionError):  # refused: a subclass of timeout in urllib3
        return False
    return isinstance(reason, urllib3.exceptions.TimeoutError)


def _raise_transport(
    prom: PrometheusConnect, what: str, exc: requests.exceptions.RequestException
) -> NoReturn:
    if _is_timeout(exc):
        raise BackendUnavailable(
            f"Prometheus at {prom.url} did not answer {what} within the timeout ({exc.__class__.__name__}); "
            "try a shorter range or a cheaper query, or check the server's load."
        ) from exc
    raise BackendUnavailable(
        f"cannot reach Prometheus at {prom.url} ({exc.__class__.__name__}); "
        "check that it is running and that DEVOPS_AGENT_PROMETHEUS_URL points at it."
    ) from exc


def _api_error(message: str, what: str) -> str:
    """Prometheus's own error text from the client's 'HTTP Status Code N (b'...')' message."""
    m = re.match(r"HTTP Status Code (\d+) \((b'.*'|b\".*\")\)$", message, re.DOTALL)
    if not m:
        return f"Prometheus error on {what}: {message}"
    try:
        body = json.loads(ast.literal_eval(m.group(2)).decode("utf-8", "replace"))
        error = f"{body.get('errorType', '')}: {body.get('error', '')}".strip(": ")
    except (ValueError, SyntaxError, AttributeError):
        error = m.group(2)[:300]
    return f"Prometheus rejected {what} (HTTP {m.group(1)}): {error}"


def _get(prom: PrometheusConnect, path: str, params: dict[str, Any] | None = None) -> Any:
    """GET one API path with the client's own session, headers and timeout; returns ``data``."""

    def fetch() -> Any:
        resp = prom._session.get(
            f"{prom.url}{path}",
            params=params or {},
            headers=prom.headers,
            auth=prom.auth,
            timeout=prom._timeout,
        )
        if resp.status_code != 200:
            raise PrometheusApiClientException(f"HTTP Status Code {resp.status_code} ({resp.content!r})")
        return resp.json().get("data")

    return _call(prom, path, fetch)


@tool(risk="read", tags=("prometheus",))
@expected_errors
def prometheus_query(deps: ToolDeps, query: str, time: str | None = None) -> ToolResult:
    """Instant PromQL: current values, top series, differing labels only.
    Example: prometheus_query(query='sum by (service) (rate(http_requests_total[5m]))')"""
    prom = _prom(deps)
    try:
        result = _call(
            prom, f"query {query!r}", prom.custom_query, query, params={"time": time} if time else None
        )
    except ToolError as exc:
        if "rejected" in str(exc):
            return ToolResult.error(f"{exc}. Hint: {_hint(query, str(exc))}", data={"error": "bad_query"})
        raise
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):  # scalar / string
        return ToolResult.ok(f"{query} = {result[1]}", data=[{"labels": {}, "value": result[1]}])
    if not result:
        return ToolResult.no_data(
            f"no series for {query} (the metric or labels may not exist; see prometheus_metric_names)"
        )
    text, data = shape_vector(result, query)
    return shaped(deps, "prometheus_query", text, data, raw=result)


def auto_step(minutes: int) -> str:
    """A step giving at most ~120 points over the range (never under 5s)."""
    return f"{max(math.ceil(minutes * 60 / MAX_POINTS), MIN_STEP_S)}s"


@tool(risk="read", tags=("prometheus",))
@expected_errors
def prometheus_range_query(
    deps: ToolDeps,
    query: str,
    minutes: int = 30,
    step: str | None = None,  # e.g. "30s"; None picks one giving ~120 points
) -> ToolResult:
    """PromQL over the last N minutes: min/max/mean/last, trend, departure from baseline per series.
    Example: prometheus_range_query(query='up', minutes=60)"""
    prom = _prom(deps)
    end = datetime.now(UTC)
    start = end - timedelta(minutes=minutes)
    step = step or auto_step(minutes)
    try:
        result = _call(
            prom,
            f"query {query!r}",
            prom.custom_query_range,
            query,
            start_time=start,
            end_time=end,
            step=step,
        )
    except ToolError as exc:
        if "rejected" in str(exc):
            return ToolResult.error(f"{exc}. Hint: {_hint(query, str(exc))}", data={"error": "bad_query"})
        raise
    if not result:
        return ToolResult.no_data(
            f"no series for {query} in the last {minutes}m (see prometheus_metric_names)"
        )
    text, data = shape_matrix(result, query)
    return shaped(
        deps, "prometheus_range_query", f"{text}\n(range {minutes}m, step {step})", data, raw=result
    )


@tool(risk="read", tags=("prometheus",))
@expected_errors
def prometheus_alerts(deps: ToolDeps, state: Literal["firing", "pending", "all"] = "firing") -> ToolResult:
    """Alerts firing/pending now, with labels and since when.
    Example: prometheus_alerts(state="all")"""
    data = _get(_prom(deps), "/api/v1/alerts") or {}
    alerts = [a for a in data.get("alerts", []) if state == "all" or a.get("state") == state]
    if not alerts:
        return ToolResult.no_data(f"no {'' if state == 'all' else state + ' '}alerts")
    alerts.sort(key=lambda a: (a.get("state") != "firing", a.get("labels", {}).get("alertname", "")))
    _, diffs = split_labels(
        [{k: v for k, v in a.get("labels", {}).items() if k != "alertname"} for a in alerts]
    )
    rows = [
        (
            a["labels"].get("alertname"),
            a.get("state"),
            age(a.get("activeAt")),
            label_str(d),
            (a.get("annotations") or {}).get("summary", "")[:120],
        )
        for a, d in zip(alerts, diffs, strict=True)
    ]
    out = [
        {
            "alertname": a["labels"].get("alertname"),
            "state": a.get("state"),
            "labels": a.get("labels"),
            "active_at": a.get("activeAt"),
            "value": a.get("value"),
            "annotations": a.get("annotations"),
        }
        for a in alerts
    ]
    return shaped(deps, "prometheus_alerts", table(("ALERT", "STATE", "FOR", "LABELS", "SUMMARY"), rows), out)


@tool(risk="read", tags=("prometheus",))
@expected_errors
def prometheus_rules(deps: ToolDeps, kind: Literal["alert", "record", "all"] = "all") -> ToolResult:
    """Alerting/recording rules with their PromQL: what an alert measures.
    Example: prometheus_rules(kind="alert")"""
    params = {"type": kind} if kind != "all" else {}
    data = _get(_prom(deps), "/api/v1/rules", params) or {}
    lines, out = [], []
    for group in data.get("groups", []):
        for r in group.get("rules", []):
            if kind != "all" and r.get("type") != {"alert": "alerting", "record": "recording"}[kind]:
                continue
            state = f" [{r.get('state')}]" if r.get("type") == "alerting" else ""
            err = f" ERROR: {r['lastError']}" if r.get("lastError") else ""
            lines.append(
                f"{r.get('name')}{state} ({group.get('name')}): {r.get('query')}{' for ' + str(r.get('duration')) + 's' if r.get('duration') else ''}{err}"
            )
            out.append(
                {
                    "name": r.get("name"),
                    "type": r.get("type"),
                    "group": group.get("name"),
                    "query": r.get("query"),
                    "state": r.get("state"),
                }
            )
    if not out:
        return ToolResult.no_data(f"no {kind} rules loaded")
    return shaped(deps, "prometheus_rules", f"{len(out)} rules\n" + "\n".join(lines), out)


@tool(risk="read", tags=("prometheus",))
@expected_errors
def prometheus_metric_names(deps: ToolDeps, prefix: str = "", limit: int = 50) -> ToolResult:
    """Find metric names by prefix before querying an unknown metric.
    Example: prometheus_metric_names(prefix="http_")"""
    prom = _prom(deps)
    names: list[str] = _call(prom, "label values of __name__", prom.get_label_values, "__name__") or []
    matched = [n for n in names if n.startswith(prefix)] or [n for n in names if prefix.lower() in n.lower()]
    if not matched:
        return ToolResult.no_data(f"no metric names match {prefix!r} ({len(names)} names exist)")
    shown = matched[: max(limit, 1)]
    head = f"{len(matched)} metrics match {prefix!r}" + (
        f"; showing {len(shown)}" if len(shown) < len(matched) else ""
    )
    return shaped(deps, "prometheus_metric_names", head + "\n" + "\n".join(shown), matched)


@tool(risk="read", tags=("prometheus",))
@expected_errors
def prometheus_labels(deps: ToolDeps, metric: str | None = None, label: str | None = None) -> ToolResult:
    """Label names, or one label's values (optionally of one metric).
    Example: prometheus_labels(metric="up", label="job")"""
    prom = _prom(deps)
    match = {"match[]": metric} if metric else {}
    if label:
        values: list[str] = _get(prom, f"/api/v1/label/{label}/values", match) or []
        if not values:
            return ToolResult.no_data(f"label {label!r} has no values{' on ' + metric if metric else ''}")
        return shaped(
            deps,
            "prometheus_labels",
            f"{len(values)} values of {label}{' on ' + metric if metric else ''}: " + ", ".join(values[:200]),
            values,
        )
    if metric:
        series: list[dict[str, str]] = _get(prom, "/api/v1/series", match) or []
        if not series:
            return ToolResult.no_data(f"no series for {metric}; see prometheus_metric_names")
        values_by: dict[str, set[str]] = {}
        for s in series:
            for k, v in s.items():
                values_by.setdefault(k, set()).add(v)
        lines = [
            f"{k} ({len(v)}): {', '.join(sorted(v)[:12])}{' ...' if len(v) > 12 else ''}"
            for k, v in sorted(values_by.items())
            if k != "__name__"
        ]
        data = {k: sorted(v) for k, v in values_by.items()}
        return shaped(
            deps, "prometheus_labels", f"{len(series)} series of {metric}; labels:\n" + "\n".join(lines), data
        )
    names: list[str] = _call(prom, "label names", prom.get_label_names) or []
    return shaped(deps, "prometheus_labels", f"{len(names)} label names: " + ", ".join(names), names)


@tool(risk="read", tags=("prometheus",))
@expected_errors
def prometheus_targets(deps: ToolDeps) -> ToolResult:
    """Scrape targets and health, down first.
    Example: prometheus_targets()"""
    data = _get(_prom(deps), "/api/v1/targets", {"state": "active"}) or {}
    targets = sorted(
        data.get("activeTargets", []), key=lambda t: (t.get("health") == "up", t.get("scrapePool", ""))
    )
    if not targets:
        return ToolResult.no_data("Prometheus has no active scrape targets")
    rows = [
        (
            t.get("scrapePool"),
            t.get("scrapeUrl"),
            t.get("health"),
            age(t.get("lastScrape")),
            (t.get("lastError") or "")[:100],
        )
        for t in targets
    ]
    down = sum(1 for t in targets if t.get("health") != "up")
    out = [
        {
            "job": t.get("scrapePool"),
            "url": t.get("scrapeUrl"),
            "health": t.get("health"),
            "error": t.get("lastError"),
        }
        for t in targets
    ]
    return shaped(
        deps,
        "prometheus_targets",
        f"{len(targets)} targets, {down} not up\n" + table(("JOB", "URL", "HEALTH", "LAST", "ERROR"), rows),
        out,
    )


__all__ = ["auto_step", "connect", "fmt", "instant_vector", "range_points", "range_series"]


def instant_vector(deps: ToolDeps, query: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) pairs of an instant query, for other tools and analyzers; raises ToolError."""
    prom = _prom(deps)
    result = _call(prom, f"query {query!r}", prom.custom_query, query) or []
    out = []
    for s in result:
        if not isinstance(s, dict):
            continue
        try:
            out.append((dict(s.get("metric", {})), float(s["value"][1])))
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    return out


def range_points(
    deps: ToolDeps, query: str, start: datetime, end: datetime, step_s: int
) -> list[tuple[dict[str, str], list[float], list[float]]]:
    """(labels, timestamps, values) of a range query, finite values only, for other tools; raises ToolError."""
    prom = _prom(deps)
    result = (
        _call(
            prom,
            f"query {query!r}",
            prom.custom_query_range,
            query,
            start_time=start,
            end_time=end,
            step=f"{step_s}s",
        )
        or []
    )
    out = []
    for s in result:
        ts, values = [], []
        for t, v in s.get("values", []):
            try:
                value = float(v)
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                ts.append(float(t))
                values.append(value)
        out.append((dict(s.get("metric", {})), ts, values))
    return out


def range_series(
    deps: ToolDeps, query: str, start: datetime, end: datetime, step_s: int
) -> list[tuple[dict[str, str], list[float]]]:
    """(labels, values) of a range query, for other tools; raises ToolError."""
    return [(labels, values) for labels, _, values in range_points(deps, query, start, end, step_s)]
