"""The LogQL syntax tree the parser builds and the engine evaluates.

Two families: a :class:`LogQuery` (a stream selector and a pipeline; returns log lines) and metric
expressions (:class:`RangeAggregation`, :class:`VectorAggregation`, :class:`BinaryOp`,
:class:`NumberLiteral`; return numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from sandbox.logs import LabelMatcher

LineFilterOp = Literal["|=", "!=", "|~", "!~"]
CompareOp = Literal["==", "!=", ">", ">=", "<", "<="]
ValueKind = Literal["number", "duration", "bytes"]


# ---------------------------------------------------------------- pipeline stages
@dataclass(frozen=True)
class LineFilter:
    """``|= "a"`` (contains), ``!= "a"``, ``|~ "re"`` (regex, unanchored), ``!~ "re"``.

    ``values`` holds the alternatives of ``|= "a" or "b"`` (a line matches if any does; for the
    negative operators, if none does).
    """

    op: LineFilterOp
    values: tuple[str, ...]
    regexes: tuple[re.Pattern[str], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class JsonParser:
    """``| json``: every JSON field becomes a label; nested keys joined with ``_``."""


@dataclass(frozen=True)
class LogfmtParser:
    """``| logfmt``: every ``key=value`` pair becomes a label."""


@dataclass(frozen=True)
class RegexpParser:
    """``| regexp "(?P<name>...)"``: each named group becomes a label."""

    regex: re.Pattern[str]


@dataclass(frozen=True)
class StringLabelFilter:
    """``| level="error"`` and the other matcher operators, on a (possibly extracted) label."""

    matcher: LabelMatcher


@dataclass(frozen=True)
class NumericLabelFilter:
    """``| status >= 500``, ``| duration > 1s``, ``| size > 1KB``."""

    name: str
    op: CompareOp
    value: float
    kind: ValueKind


@dataclass(frozen=True)
class LabelFilterAnd:
    left: LabelFilter
    right: LabelFilter


@dataclass(frozen=True)
class LabelFilterOr:
    left: LabelFilter
    right: LabelFilter


LabelFilter = StringLabelFilter | NumericLabelFilter | LabelFilterAnd | LabelFilterOr


@dataclass(frozen=True)
class LabelFilterStage:
    """A pipeline stage holding one label filter expression."""

    expr: LabelFilter


@dataclass(frozen=True)
class LineFormat:
    """``| line_format "{{.msg}}"``: ``parts`` alternate literal text and label references.

    Each part is ``("text", s)``, ``("label", name)`` or ``("line", "")`` for ``{{__line__}}``.
    """

    parts: tuple[tuple[Literal["text", "label", "line"], str], ...]


@dataclass(frozen=True)
class DropLabels:
    names: tuple[str, ...]


@dataclass(frozen=True)
class KeepLabels:
    names: tuple[str, ...]


Stage = (
    LineFilter
    | JsonParser
    | LogfmtParser
    | RegexpParser
    | LabelFilterStage
    | LineFormat
    | DropLabels
    | KeepLabels
)


# ---------------------------------------------------------------- queries
@dataclass(frozen=True)
class LogQuery:
    """``{app="api"} |= "error" | json``: selects streams, then runs the pipeline on each line."""

    matchers: tuple[LabelMatcher, ...]
    stages: tuple[Stage, ...] = ()


RangeFunc = Literal["count_over_time", "rate", "bytes_over_time", "bytes_rate"]
VectorOp = Literal[
    "sum", "avg", "max", "min", "count", "stddev", "stdvar", "topk", "bottomk", "sort", "sort_desc"
]
BinaryOperator = Literal["+", "-", "*", "/", "%", "^", "==", "!=", ">", ">=", "<", "<="]


@dataclass(frozen=True)
class RangeAggregation:
    """``rate({app="api"} |= "error" [5m] offset 1m)``: one sample per line in each window."""

    func: RangeFunc
    query: LogQuery
    range_ns: int
    offset_ns: int = 0


@dataclass(frozen=True)
class Grouping:
    """``by (a, b)`` (``without=False``) or ``without (a, b)``."""

    labels: tuple[str, ...]
    without: bool = False


@dataclass(frozen=True)
class VectorAggregation:
    """``sum by (app) (...)``, ``topk(3, ...)``; ``param`` is topk/bottomk's k."""

    op: VectorOp
    inner: MetricExpr
    grouping: Grouping | None = None
    param: int | None = None


@dataclass(frozen=True)
class NumberLiteral:
    value: float


@dataclass(frozen=True)
class BinaryOp:
    """``lhs op rhs``; with ``return_bool`` a comparison yields 0/1 instead of filtering."""

    op: BinaryOperator
    lhs: MetricExpr
    rhs: MetricExpr
    return_bool: bool = False


MetricExpr = RangeAggregation | VectorAggregation | NumberLiteral | BinaryOp
Expr = LogQuery | MetricExpr
