"""Range-aggregation windows: the value of ``func(...[range])`` at each evaluation step.

The window at step ``t`` is ``(t - offset - range, t - offset]``. Samples are ``(ts, value)``:
the line's byte size for the counting functions, the unwrapped label's value otherwise.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate

from sandbox.loki import ast

Window = Callable[[list[float], int, int], float]


def window_values(
    node: ast.RangeAggregation, points: list[tuple[int, float]], steps: list[int]
) -> dict[int, float]:
    """The aggregated value at each step index whose window holds at least one sample."""
    points.sort(key=lambda p: p[0])
    stamps = [ts for ts, _ in points]
    values = [v for _, v in points]
    aggregate = _aggregator(node, values)
    out: dict[int, float] = {}
    for i, t in enumerate(steps):
        end = t - node.offset_ns
        first = bisect_right(stamps, end - node.range_ns)
        last = bisect_right(stamps, end)
        if last > first:
            out[i] = aggregate(values, first, last)
    return out


def absent_steps(node: ast.RangeAggregation, stamps: list[int], steps: list[int]) -> dict[int, float]:
    """``absent_over_time``: 1 at each step whose window holds no sample at all."""
    stamps.sort()
    out: dict[int, float] = {}
    for i, t in enumerate(steps):
        end = t - node.offset_ns
        if bisect_right(stamps, end) == bisect_right(stamps, end - node.range_ns):
            out[i] = 1.0
    return out


def _aggregator(node: ast.RangeAggregation, values: list[float]) -> Window:
    seconds = node.range_ns / 1e9
    func = node.func
    if func == "count_over_time" or (func == "rate" and node.unwrap is None):
        per = seconds if func == "rate" else 1.0
        return lambda vs, a, b: (b - a) / per
    if func in ("bytes_over_time", "bytes_rate"):
        cumulative = [0.0, *accumulate(values)]
        per = seconds if func == "bytes_rate" else 1.0
        return lambda vs, a, b: (cumulative[b] - cumulative[a]) / per
    if func == "rate":
        return lambda vs, a, b: math.fsum(vs[a:b]) / seconds
    if func == "quantile_over_time":
        phi = node.param if node.param is not None else 0.5
        return lambda vs, a, b: quantile(phi, vs[a:b])
    return _VALUE_FUNCS[func]


_VALUE_FUNCS: dict[str, Window] = {
    "sum_over_time": lambda vs, a, b: math.fsum(vs[a:b]),
    "avg_over_time": lambda vs, a, b: math.fsum(vs[a:b]) / (b - a),
    "max_over_time": lambda vs, a, b: max(vs[a:b]),
    "min_over_time": lambda vs, a, b: min(vs[a:b]),
    "first_over_time": lambda vs, a, b: vs[a],
    "last_over_time": lambda vs, a, b: vs[b - 1],
    "stddev_over_time": lambda vs, a, b: statistics.pstdev(vs[a:b]),
    "stdvar_over_time": lambda vs, a, b: statistics.pvariance(vs[a:b]),
}


def quantile(phi: float, values: list[float]) -> float:
    """Prometheus' φ-quantile: linear interpolation between the closest ranks."""
    if phi < 0:
        return -math.inf
    if phi > 1:
        return math.inf
    ordered = sorted(values)
    rank = phi * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    weight = rank - low
    return ordered[low] * (1 - weight) + ordered[high] * weight
