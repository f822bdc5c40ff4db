"""Vector arithmetic for LogQL metric queries: aggregations and binary operators.

A :data:`Vector` maps a series' label set to its values by step index (sparse: a step without a
value is absent, as a series with no sample in its window). Scalars are plain floats.
"""

from __future__ import annotations

import math
import operator
import statistics
from collections import defaultdict
from collections.abc import Callable

from sandbox.loki import ast
from sandbox.loki.errors import LokiError

LabelKey = tuple[tuple[str, str], ...]
Vector = dict[LabelKey, dict[int, float]]


# ---------------------------------------------------------------- aggregations
def vector_aggregation(node: ast.VectorAggregation, inner: Vector) -> Vector:
    """``sum by (...)``, ``topk(k, ...)`` and friends, applied step by step."""
    if node.op in ("sort", "sort_desc"):
        return inner
    by_step: dict[int, list[tuple[LabelKey, float]]] = defaultdict(list)
    for key, points in inner.items():
        for i, value in points.items():
            by_step[i].append((key, value))
    out: Vector = defaultdict(dict)
    for i, samples in by_step.items():
        groups: dict[LabelKey, list[tuple[LabelKey, float]]] = defaultdict(list)
        for key, value in samples:
            groups[group_key(key, node.grouping)].append((key, value))
        for group, members in groups.items():
            if node.op in ("topk", "bottomk"):
                assert node.param is not None
                chosen = sorted(members, key=lambda m: m[1], reverse=node.op == "topk")[: node.param]
                for key, value in chosen:
                    out[key][i] = value
            else:
                out[group][i] = _AGGREGATORS[node.op]([v for _, v in members])
    return dict(out)


def group_key(key: LabelKey, grouping: ast.Grouping | None) -> LabelKey:
    """The label set a series falls into under ``by``/``without`` (none: one group)."""
    if grouping is None:
        return ()
    names = set(grouping.labels)
    if grouping.without:
        return tuple((k, v) for k, v in key if k not in names)
    return tuple((k, v) for k, v in key if k in names)


_AGGREGATORS: dict[str, Callable[[list[float]], float]] = {
    "sum": math.fsum,
    "avg": lambda vs: math.fsum(vs) / len(vs),
    "max": max,
    "min": min,
    "count": lambda vs: float(len(vs)),
    "stddev": lambda vs: statistics.pstdev(vs),
    "stdvar": lambda vs: statistics.pvariance(vs),
}


# ---------------------------------------------------------------- binary operators
def binary_op(node: ast.BinaryOp, lhs: Vector | float, rhs: Vector | float) -> Vector | float:
    """``lhs op rhs`` with PromQL semantics (one-to-one matching, ``on``/``ignoring``, set ops)."""
    compare = node.op in _COMPARISONS
    if node.op in _SET_OPS:
        if isinstance(lhs, float) or isinstance(rhs, float):
            raise LokiError(f"set operator {node.op} not allowed in binary scalar expression")
        return _set_operation(node, lhs, rhs)
    if isinstance(lhs, float) and isinstance(rhs, float):
        if compare and not node.return_bool:
            raise LokiError("comparisons between scalars must use BOOL modifier")
        return _apply(node.op, lhs, rhs)
    if isinstance(rhs, float):
        assert not isinstance(lhs, float)
        return _vector_scalar(node, lhs, lambda v: (v, rhs))
    if isinstance(lhs, float):
        return _vector_scalar(node, rhs, lambda v: (lhs, v))
    return _one_to_one(node, lhs, rhs)


_SET_OPS = frozenset({"and", "or", "unless"})


def _signature(key: LabelKey, matching: ast.VectorMatching | None) -> LabelKey:
    if matching is None:
        return key
    names = set(matching.labels)
    return tuple((k, v) for k, v in key if (k in names) == matching.on)


def _one_to_one(node: ast.BinaryOp, lhs: Vector, rhs: Vector) -> Vector:
    right = _by_signature(rhs, node.matching, "right")
    left = _by_signature(lhs, node.matching, "left")
    out: Vector = defaultdict(dict)
    # The result keeps the matching labels: all of them, the on(...) ones, or all but ignoring(...).
    for (sig, i), (_, left_value) in left.items():
        match = right.get((sig, i))
        if match is None:
            continue
        result = _combine(node, left_value, match[1], left_value)
        if result is not None:
            out[sig][i] = result
    return dict(out)


def _by_signature(
    vector: Vector, matching: ast.VectorMatching | None, side: str
) -> dict[tuple[LabelKey, int], tuple[LabelKey, float]]:
    found: dict[tuple[LabelKey, int], tuple[LabelKey, float]] = {}
    for key, points in vector.items():
        sig = _signature(key, matching)
        for i, value in points.items():
            if (sig, i) in found:
                raise LokiError(
                    f"found duplicate series for the match group {_text(sig)} on the {side} hand-side of "
                    "the operation; many-to-many matching not allowed: matching labels must be unique on "
                    "one side (use on(...) or ignoring(...) with labels that tell the series apart)"
                )
            found[(sig, i)] = (key, value)
    return found


def _set_operation(node: ast.BinaryOp, lhs: Vector, rhs: Vector) -> Vector:
    right_sigs: dict[int, set[LabelKey]] = defaultdict(set)
    for key, points in rhs.items():
        for i in points:
            right_sigs[i].add(_signature(key, node.matching))
    out: Vector = defaultdict(dict)
    left_sigs: dict[int, set[LabelKey]] = defaultdict(set)
    for key, points in lhs.items():
        sig = _signature(key, node.matching)
        for i, value in points.items():
            left_sigs[i].add(sig)
            present = sig in right_sigs[i]
            if node.op == "or" or (node.op == "and") == present:
                out[key][i] = value
    if node.op == "or":
        for key, points in rhs.items():
            sig = _signature(key, node.matching)
            for i, value in points.items():
                if sig not in left_sigs[i]:
                    out[key][i] = value
    return dict(out)


def _text(key: LabelKey) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in key) + "}"


def _vector_scalar(
    node: ast.BinaryOp,
    vector: Vector,
    operands: Callable[[float], tuple[float, float]],
) -> Vector:
    """Apply the operator to each element; a comparison keeps the vector side's value."""
    out: Vector = {}
    for key, values in vector.items():
        points: dict[int, float] = {}
        for i, value in values.items():
            left, right = operands(value)
            result = _combine(node, left, right, value)
            if result is not None:
                points[i] = result
        if points:
            out[key] = points
    return out


def _combine(node: ast.BinaryOp, left: float, right: float, kept: float) -> float | None:
    """One element of ``left op right``; ``None`` drops it (a comparison that is false)."""
    result = _apply(node.op, left, right)
    if node.op not in _COMPARISONS or node.return_bool:
        return result
    return kept if result == 1.0 else None


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _apply(op: str, left: float, right: float) -> float:
    if op in _COMPARISONS:
        return 1.0 if _COMPARISONS[op](left, right) else 0.0
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return _divide(left, right)
    if op == "%":
        return math.fmod(left, right) if right != 0 else math.nan
    try:
        return math.pow(left, right)
    except (OverflowError, ValueError):
        return math.inf if left > 0 else math.nan


def _divide(left: float, right: float) -> float:
    if right != 0:
        return left / right
    if left == 0 or math.isnan(left):
        return math.nan
    return math.copysign(math.inf, left) * math.copysign(1.0, right)
