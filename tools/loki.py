"""Loki tools over its HTTP API (``httpx``): LogQL queries, label discovery, and log patterns.

``loki_patterns`` folds thousands of lines into templates with ``drain3`` (count, first and last
seen, one example each), so an error burst costs a few hundred tokens instead of thousands.
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime
from typing import Any

import httpx

from tools.base import ToolDeps, ToolResult, tool
from tools.budget import shaped
from tools.errors import BackendUnavailable, ToolError, expected_errors
from tools.logpatterns import mine_patterns
from tools.promshape import label_str, shape_matrix, split_labels

MAX_PATTERN_LINES = 5000


class LokiClient:
    """A small client for Loki's query API (``/loki/api/v1/...``)."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET and return the response's ``data``; transport and API errors become ToolErrors."""
        try:
            resp = self._http.get(path, params={k: v for k, v in (params or {}).items() if v is not None})
        except httpx.TimeoutException as exc:
            raise BackendUnavailable(
                f"Loki at {self.url} did not answer within the timeout ({type(exc).__name__}); "
                "narrow the time range or add label matchers to the selector."
            ) from exc
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"cannot reach Loki at {self.url} ({type(exc).__name__}: {exc}); "
                "check that it is running and that DEVOPS_AGENT_LOKI_URL points at it."
            ) from exc
        if resp.status_code != 200:
            raise ToolError(f"Loki rejected the request (HTTP {resp.status_code}): {resp.text.strip()[:300]}")
        return resp.json().get("data")

    def query_range(self, query: str, minutes: int, limit: int, direction: str = "backward") -> Any:
        end = _time.time_ns()
        start = end - minutes * 60 * 1_000_000_000
        params = {"query": query, "start": start, "end": end, "limit": limit, "direction": direction}
        return self.get("/loki/api/v1/query_range", params)


def _loki(deps: ToolDeps) -> LokiClient:
    client: LokiClient = deps.loki()
    return client


def _bad_query(exc: ToolError) -> ToolResult:
    return ToolResult.error(
        f"{exc}. Hint: a LogQL query needs a stream selector with at least one matcher, "
        '{namespace="shop", app="api"} |= "error"; see loki_labels for label names.',
        data={"error": "bad_query"},
    )


def stream_lines(data: Any) -> list[tuple[int, dict[str, str], str]]:
    """(timestamp ns, stream labels, line) for every entry of a streams result, oldest first."""
    out = []
    for stream in (data or {}).get("result", []):
        labels = stream.get("stream", {})
        for ts, line in stream.get("values", []):
            out.append((int(ts), labels, line))
    out.sort(key=lambda e: e[0])
    return out


def _hms(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, UTC).strftime("%H:%M:%S")


@tool(risk="read", tags=("loki",))
@expected_errors
def loki_query(deps: ToolDeps, query: str, minutes: int = 15, limit: int = 100) -> ToolResult:
    """LogQL over the last N minutes: log lines (newest), or numbers for metric queries.
    Example: loki_query(query='{namespace="ns", app="api"} |= "error"')"""
    try:
        data = _loki(deps).query_range(query, minutes, limit)
    except BackendUnavailable:
        raise
    except ToolError as exc:
        return _bad_query(exc)
    if (data or {}).get("resultType") == "matrix":
        result = data.get("result", [])
        if not result:
            return ToolResult.no_data(f"no data for {query} in the last {minutes}m")
        text, shaped_data = shape_matrix(result, query)
        return shaped(deps, "loki_query", text, shaped_data, raw=result)
    entries = stream_lines(data)
    if not entries:
        return ToolResult.no_data(f"no log lines for {query} in the last {minutes}m")
    common, diffs = split_labels([labels for _, labels, _ in entries])
    lines = [
        f"{len(entries)} lines (limit {limit}) for {query}",
        f"common labels: {label_str(common)}" if common else "",
    ]
    lines += [
        f"{_hms(ts)} {label_str(d) + ' ' if d else ''}{line}"
        for (ts, _, line), d in zip(entries, diffs, strict=True)
    ]
    data_out = [{"ts": ts, "labels": labels, "line": line} for ts, labels, line in entries]
    return shaped(deps, "loki_query", "\n".join(x for x in lines if x), data_out, raw=data_out, keep="tail")


@tool(risk="read", tags=("loki",))
@expected_errors
def loki_labels(deps: ToolDeps, label: str | None = None) -> ToolResult:
    """Loki label names, or one label's values.
    Example: loki_labels(label="app")"""
    loki = _loki(deps)
    if label:
        values = loki.get(f"/loki/api/v1/label/{label}/values") or []
        if not values:
            return ToolResult.no_data(f"label {label!r} has no values in Loki")
        return shaped(deps, "loki_labels", f"{len(values)} values of {label}: " + ", ".join(values), values)
    names = loki.get("/loki/api/v1/labels") or []
    if not names:
        return ToolResult.no_data("Loki has no labels (no logs ingested?)")
    return shaped(deps, "loki_labels", f"{len(names)} labels: " + ", ".join(names), names)


@tool(risk="read", tags=("loki",))
@expected_errors
def loki_patterns(deps: ToolDeps, query: str, minutes: int = 15) -> ToolResult:
    """Log lines folded into templates with counts: the cheapest view of a burst.
    Example: loki_patterns(query='{namespace="ns"} |= "error"')"""
    try:
        data = _loki(deps).query_range(query, minutes, MAX_PATTERN_LINES)
    except BackendUnavailable:
        raise
    except ToolError as exc:
        return _bad_query(exc)
    if (data or {}).get("resultType") == "matrix":
        return ToolResult.error(
            "loki_patterns needs a log query (a selector and filters), not a metric query; use loki_query."
        )
    entries = stream_lines(data)
    if not entries:
        return ToolResult.no_data(f"no log lines for {query} in the last {minutes}m")
    patterns = mine_patterns([(ts, line) for ts, _, line in entries])
    capped = " (line limit reached: older lines not included)" if len(entries) >= MAX_PATTERN_LINES else ""
    lines = [f"{len(entries)} lines in {len(patterns)} patterns for {query} (last {minutes}m){capped}"]
    for p in patterns:
        lines.append(f"[{p['count']}x {_hms(p['first_ns'])}..{_hms(p['last_ns'])}] {p['template']}")
        if p["example"] != p["template"]:
            lines.append(f"    e.g. {p['example'][:240]}")
    return shaped(deps, "loki_patterns", "\n".join(lines), patterns)
