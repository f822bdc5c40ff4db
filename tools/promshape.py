"""Shaping Prometheus results for a model (pure functions; no client here).

Per series: only the labels that differ between series, min/max/mean/last, the trend, and where the
series departs from its own recent baseline. Series are ranked (most anomalous / largest first) and
cut to ``top_k`` with "showing k of N series".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Series = dict[str, Any]  # {"metric": {...}, "values": [[ts, "v"], ...]} or {"metric":..., "value": [ts, "v"]}


def fmt(v: float) -> str:
    """A short number: 3 significant digits, k/M suffixes, NaN/Inf spelled out."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if a == 0 or a >= 0.001:
        return f"{v:.3g}"
    return f"{v:.2e}"


def split_labels(metrics: Sequence[dict[str, str]]) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(labels shared by every series, per-series labels that differ)."""
    if not metrics:
        return {}, []
    common = dict(metrics[0])
    for m in metrics[1:]:
        common = {k: v for k, v in common.items() if m.get(k) == v}
    if len(metrics) == 1:
        name = common.get("__name__")
        return ({"__name__": name} if name else {}), [
            {k: v for k, v in metrics[0].items() if k != "__name__"}
        ]
    return common, [{k: v for k, v in m.items() if k not in common} for m in metrics]


def label_str(labels: dict[str, str]) -> str:
    name = labels.get("__name__", "")
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{inner}}}" if inner or not name else name


@dataclass
class Stats:
    """Summary of one range series."""

    labels: dict[str, str]
    points: int
    min: float
    max: float
    mean: float
    last: float
    first: float
    trend: str
    departure: str  # "" when the series stays within its baseline
    score: float  # how anomalous: used for ranking

    def as_dict(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("labels", "points", "min", "max", "mean", "last", "trend", "departure")
        }


def _floats(values: Sequence[Sequence[Any]]) -> list[tuple[float, float]]:
    out = []
    for ts, v in values:
        try:
            out.append((float(ts), float(v)))
        except (TypeError, ValueError):
            continue
    return out


def trend(first: float, last: float, lo: float, hi: float) -> str:
    span = hi - lo
    if span == 0 or math.isnan(span):
        return "flat"
    change = last - first
    if abs(change) < 0.1 * span:
        return "flat"
    direction = "rising" if change > 0 else "falling"
    if first != 0 and not math.isnan(first):
        return f"{direction} ({change / abs(first):+.0%})"
    return direction


def departure(points: list[tuple[float, float]]) -> tuple[str, float]:
    """Where the recent part (last 25%) leaves the earlier baseline by > 3 sigma and > 10%."""
    finite = [(t, v) for t, v in points if math.isfinite(v)]
    if len(finite) < 8:
        return "", 0.0
    cut = int(len(finite) * 0.75)
    base = [v for _, v in finite[:cut]]
    mean, sd = statistics.fmean(base), statistics.pstdev(base)
    tol = max(3 * sd, 0.1 * abs(mean), 1e-9)
    for t, v in finite[cut:]:
        if abs(v - mean) > tol:
            when = datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S")
            recent = statistics.fmean(v for _, v in finite[cut:])
            score = abs(recent - mean) / tol
            return f"departs from baseline {fmt(mean)} since {when} (recent mean {fmt(recent)})", score
    return "", 0.0


def summarize(series: Series, labels: dict[str, str]) -> Stats | None:
    points = _floats(series.get("values") or [])
    if not points:
        return None
    vals = [v for _, v in points]
    finite = [v for v in vals if math.isfinite(v)] or vals
    dep, score = departure(points)
    lo, hi = min(finite), max(finite)
    return Stats(
        labels=labels,
        points=len(points),
        min=lo,
        max=hi,
        mean=statistics.fmean(finite),
        last=vals[-1],
        first=vals[0],
        trend=trend(finite[0], finite[-1], lo, hi),
        departure=dep,
        score=score,
    )


def shape_matrix(result: list[Series], query: str, top_k: int = 15) -> tuple[str, list[dict[str, Any]]]:
    """Text and data for a range query result."""
    common, diffs = split_labels([s.get("metric", {}) for s in result])
    stats = [st for s, d in zip(result, diffs, strict=True) if (st := summarize(s, d)) is not None]
    stats.sort(key=lambda s: (-s.score, -abs(s.last) if math.isfinite(s.last) else 0.0))
    shown = stats[:top_k]
    lines = [
        f"{len(stats)} series for {query}"
        + (
            f"; showing {len(shown)} of {len(stats)} (most anomalous first)"
            if len(shown) < len(stats)
            else ""
        )
    ]
    if common:
        lines.append(f"common labels: {label_str(common)}")
    for s in shown:
        line = f"- {label_str(s.labels) or '(series)'}: last {fmt(s.last)} min {fmt(s.min)} max {fmt(s.max)} mean {fmt(s.mean)}, {s.trend}"
        lines.append(line + (f"; {s.departure}" if s.departure else ""))
    return "\n".join(lines), [s.as_dict() | {"labels": {**common, **s.labels}} for s in stats]


def shape_vector(result: list[Series], query: str, top_k: int = 20) -> tuple[str, list[dict[str, Any]]]:
    """Text and data for an instant vector: largest values first, differing labels only."""
    rows = []
    for s in result:
        try:
            rows.append((s.get("metric", {}), float(s["value"][1])))
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    rows.sort(key=lambda r: -r[1] if math.isfinite(r[1]) else math.inf)
    common, diffs = split_labels([m for m, _ in rows])
    shown = list(zip(diffs, rows, strict=True))[:top_k]
    lines = [
        f"{len(rows)} series for {query}"
        + (f"; showing top {len(shown)} of {len(rows)} by value" if len(shown) < len(rows) else "")
    ]
    if common:
        lines.append(f"common labels: {label_str(common)}")
    lines += [f"- {label_str(d) or '(value)'}: {fmt(v)}" for d, (_, v) in shown]
    return "\n".join(lines), [{"labels": m, "value": v} for m, v in rows]
