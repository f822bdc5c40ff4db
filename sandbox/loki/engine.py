"""Evaluating LogQL over a :class:`~sandbox.logs.LogStore`.

:class:`Engine` answers instant and range queries with Loki's result types: ``streams`` for log
queries, ``vector``/``scalar`` for instant metric queries and ``matrix`` for range metric queries.
Each pass over the data is linear in the lines selected; windows are counted with binary search.

Semantics follow Loki: a range window at time ``t`` is ``(t - range - offset, t - offset]``; log
queries read ``[start, end)`` and return the newest (``backward``) or oldest (``forward``)
``limit`` entries across all streams; a metric query over lines that carry ``__error__`` fails
with a pipeline error; more than ``max_series`` series is a limit error.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from sandbox.logs import Labels, LogStore
from sandbox.loki import ast
from sandbox.loki.errors import LimitError, LokiError, PipelineError
from sandbox.loki.logql import parse
from sandbox.loki.metrics import LabelKey, Vector, binary_op, group_key, vector_aggregation
from sandbox.loki.pipeline import ERROR, compile_pipeline, compile_unwrap
from sandbox.loki.windows import absent_steps, window_values

Direction = Literal["forward", "backward"]
INSTANT_LOG_LOOKBACK_NS = 3600 * 1_000_000_000
MAX_POINTS = 11_000


@dataclass
class Stats:
    """What a query touched, reported in the response's ``stats.summary``."""

    lines: int = 0
    bytes: int = 0
    entries_returned: int = 0
    post_filter_lines: int = 0
    started: float = field(default_factory=time.perf_counter)

    def exec_seconds(self) -> float:
        return time.perf_counter() - self.started


@dataclass
class StreamsResult:
    streams: list[tuple[Labels, list[tuple[int, str]]]]
    stats: Stats
    result_type: str = "streams"


@dataclass
class VectorResult:
    ts_ns: int
    samples: list[tuple[Labels, float]]
    stats: Stats
    result_type: str = "vector"


@dataclass
class ScalarResult:
    ts_ns: int
    value: float
    stats: Stats
    result_type: str = "scalar"


@dataclass
class MatrixResult:
    series: list[tuple[Labels, list[tuple[int, float]]]]
    stats: Stats
    result_type: str = "matrix"


Result = StreamsResult | VectorResult | ScalarResult | MatrixResult


class Engine:
    """Runs LogQL queries against one log store."""

    def __init__(self, store: LogStore, *, max_series: int = 500) -> None:
        self.store = store
        self.max_series = max_series

    def instant(
        self, query: str, ts_ns: int, *, limit: int = 100, direction: Direction = "backward"
    ) -> Result:
        """Evaluate ``query`` at ``ts_ns`` (a log query reads the hour before it)."""
        expr = parse(query)
        stats = Stats()
        if isinstance(expr, ast.LogQuery):
            start = ts_ns - INSTANT_LOG_LOOKBACK_NS
            return self._logs(expr, start, ts_ns + 1, limit, direction, stats)
        value = self._eval(expr, [ts_ns], stats)
        if isinstance(value, float):
            return ScalarResult(ts_ns, value, stats)
        samples = [(dict(key), points[0]) for key, points in value.items() if 0 in points]
        return VectorResult(ts_ns, _order_instant(expr, samples), stats)

    def range(
        self,
        query: str,
        start_ns: int,
        end_ns: int,
        step_ns: int,
        *,
        limit: int = 100,
        direction: Direction = "backward",
    ) -> Result:
        """Evaluate ``query`` over ``[start_ns, end_ns]``: log lines, or one point per step."""
        expr = parse(query)
        stats = Stats()
        if isinstance(expr, ast.LogQuery):
            return self._logs(expr, start_ns, end_ns, limit, direction, stats)
        if step_ns <= 0:
            raise LimitError(
                "zero or negative query resolution step widths are not accepted. Try a positive integer"
            )
        if (end_ns - start_ns) // step_ns + 1 > MAX_POINTS:
            raise LimitError(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        steps = list(range(start_ns, end_ns + 1, step_ns))
        value = self._eval(expr, steps, stats)
        if isinstance(value, float):
            value = {(): dict.fromkeys(range(len(steps)), value)}
        series = [
            (dict(key), [(steps[i], v) for i, v in sorted(points.items())])
            for key, points in sorted(value.items())
            if points
        ]
        return MatrixResult(series, stats)

    # ------------------------------------------------------------ log queries
    def _logs(
        self, q: ast.LogQuery, start: int, end: int, limit: int, direction: Direction, stats: Stats
    ) -> StreamsResult:
        """Walk all streams merged in time order from the requested end; stop at ``limit``."""
        pipeline = compile_pipeline(q.stages)
        backward = direction == "backward"
        streams = [
            _entries(labels, entries, backward)
            for labels, entries in self.store.select(start, end, q.matchers)
        ]
        grouped: dict[LabelKey, list[tuple[int, str]]] = defaultdict(list)
        for ts, line, labels in heapq.merge(*streams, key=lambda e: e[0], reverse=backward):
            stats.lines += 1
            stats.bytes += len(line)
            out = pipeline(line, labels)
            if out is None:
                continue
            grouped[_key(out[1])].append((ts, out[0]))
            stats.entries_returned += 1
            if stats.entries_returned >= limit:
                break
        stats.post_filter_lines = stats.entries_returned
        streams_out = [(dict(key), entries) for key, entries in sorted(grouped.items())]
        return StreamsResult(streams_out, stats)

    # ------------------------------------------------------------ metric queries
    def _eval(self, expr: ast.MetricExpr, steps: list[int], stats: Stats) -> Vector | float:
        if isinstance(expr, ast.NumberLiteral):
            return expr.value
        if isinstance(expr, ast.VectorLiteral):
            return {(): dict.fromkeys(range(len(steps)), expr.value)}
        if isinstance(expr, ast.RangeAggregation):
            return self._range_aggregation(expr, steps, stats, outer=None)
        if isinstance(expr, ast.VectorAggregation):
            if isinstance(expr.inner, ast.RangeAggregation):
                inner: Vector | float = self._range_aggregation(expr.inner, steps, stats, expr.grouping)
            else:
                inner = self._eval(expr.inner, steps, stats)
            if isinstance(inner, float):
                raise LokiError(f"{expr.op}: expected a vector expression, got the scalar {inner}")
            return self._check_series(vector_aggregation(expr, inner))
        lhs = self._eval(expr.lhs, steps, stats)
        rhs = self._eval(expr.rhs, steps, stats)
        return binary_op(expr, lhs, rhs)

    def _range_aggregation(
        self, node: ast.RangeAggregation, steps: list[int], stats: Stats, outer: ast.Grouping | None
    ) -> Vector:
        samples = self._samples(node, steps, stats, _label_hints(node, outer))
        if node.func == "absent_over_time":
            stamps = [ts for points in samples.values() for ts, _ in points]
            labels = tuple(sorted((m.name, m.value) for m in node.query.matchers if m.op == "="))
            absent = absent_steps(node, stamps, steps)
            return {labels: absent} if absent else {}
        vector = {key: window_values(node, points, steps) for key, points in samples.items()}
        return self._check_series({key: points for key, points in vector.items() if points})

    def _samples(
        self, node: ast.RangeAggregation, steps: list[int], stats: Stats, hints: frozenset[str] | None
    ) -> dict[LabelKey, list[tuple[int, float]]]:
        """Run the pipeline over every line that can fall in a window: ``(ts, value)`` per series."""
        pipeline = compile_pipeline(node.query.stages, hints)
        unwrap = compile_unwrap(node.unwrap) if node.unwrap else None
        lo = steps[0] - node.offset_ns - node.range_ns
        hi = steps[-1] - node.offset_ns
        samples: dict[LabelKey, list[tuple[int, float]]] = defaultdict(list)
        for labels, entries in self.store.select(lo + 1, hi + 1, node.query.matchers):
            base_key = _key(labels)
            for ts, line in entries:
                stats.lines += 1
                stats.bytes += len(line)
                out = pipeline(line, labels)
                if out is None:
                    continue
                new_line, new_labels = out
                value = float(len(new_line.encode()))
                if unwrap is not None:
                    unwrapped = unwrap(new_labels)
                    if unwrapped is None:
                        continue
                    value, new_labels = unwrapped
                if ERROR in new_labels:
                    raise PipelineError(new_labels[ERROR], _format_labels(new_labels))
                stats.post_filter_lines += 1
                key = base_key if new_labels is labels else _key(new_labels)
                if node.grouping is not None:
                    key = group_key(key, node.grouping)
                samples[key].append((ts, value))
        return samples

    def _check_series(self, vector: Vector) -> Vector:
        per_step = Counter(i for points in vector.values() for i in points)
        if per_step and max(per_step.values()) > self.max_series:
            raise LimitError(
                f"maximum number of series ({self.max_series}) reached for a single query; consider "
                "reducing query cardinality by adding more specific stream selectors, reducing the "
                "time range, or aggregating results with functions like sum(), count() or topk()"
            )
        return vector


def _label_hints(node: ast.RangeAggregation, outer: ast.Grouping | None) -> frozenset[str] | None:
    """The labels the parsers need to extract when a ``by (...)`` grouping bounds what can matter
    (Loki's parser label hints): the grouping's, and those later stages read."""
    grouping = node.grouping or outer
    if grouping is None or grouping.without:
        return None
    needed = set(grouping.labels)
    for stage in node.query.stages:
        needed |= _stage_labels(stage)
    if node.unwrap is not None:
        needed.add(node.unwrap.label)
        for stage in node.unwrap.post_filters:
            needed |= _stage_labels(stage)
    return frozenset(needed)


def _stage_labels(stage: ast.Stage) -> set[str]:
    if isinstance(stage, ast.LabelFilterStage):
        return _filter_labels(stage.expr)
    if isinstance(stage, ast.LineFormat):
        return {name for kind, name in stage.parts if kind == "label"}
    if isinstance(stage, ast.LabelFormat):
        names: set[str] = set()
        for _, src, parts in stage.ops:
            names |= {src} if src is not None else {name for kind, name in parts if kind == "label"}
        return names
    if isinstance(stage, ast.KeepLabels):
        return set(stage.names)
    return set()


def _filter_labels(expr: ast.LabelFilter) -> set[str]:
    if isinstance(expr, ast.LabelFilterAnd | ast.LabelFilterOr):
        return _filter_labels(expr.left) | _filter_labels(expr.right)
    if isinstance(expr, ast.StringLabelFilter):
        return {expr.matcher.name}
    return {expr.name}


def _order_instant(expr: ast.MetricExpr, samples: list[tuple[Labels, float]]) -> list[tuple[Labels, float]]:
    """Loki sorts instant vectors by labels, unless the query asks for an order by value."""
    if isinstance(expr, ast.VectorAggregation) and expr.op in ("sort_desc", "topk"):
        return sorted(samples, key=lambda s: -s[1])
    if isinstance(expr, ast.VectorAggregation) and expr.op in ("sort", "bottomk"):
        return sorted(samples, key=lambda s: s[1])
    return sorted(samples, key=lambda s: sorted(s[0].items()))


def _entries(
    labels: Labels, entries: list[tuple[int, str]], backward: bool
) -> Iterator[tuple[int, str, Labels]]:
    ordered = reversed(entries) if backward else iter(entries)
    return ((ts, line, labels) for ts, line in ordered)


def _key(labels: Mapping[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


def _format_labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
