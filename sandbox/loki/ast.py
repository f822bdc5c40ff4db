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
    """``| json``: every JSON field becomes a label; nested keys joined with ``_``.

    With parameters (``| json lvl="level", code="response.status"``) only those fields are
    extracted: ``params`` maps each label to its path (object keys and list indexes).
    """

    params: tuple[tuple[str, tuple[str | int, ...]], ...] = ()


@dataclass(frozen=True)
class LogfmtParser:
    """``| logfmt``: every ``key=value`` pair becomes a label (or only ``params``: label → key)."""

    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PatternParser:
    """``| pattern "<ip> - <_> [<ts>] <msg>"``: captures become labels.

    ``parts`` alternate literals and captures: ``("literal", text)`` or ``("capture", name)``
    (``_`` captures without a label).
    """

    parts: tuple[tuple[Literal["literal", "capture"], str], ...]


@dataclass(frozen=True)
class Decolorize:
    """``| decolorize``: strip ANSI colour codes from the line."""


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
class LabelFormat:
    """``| label_format dst=src, dst2="{{.a}}-{{.b}}"``: rename (``src`` given) or render a template."""

    ops: tuple[tuple[str, str | None, tuple[tuple[Literal["text", "label", "line"], str], ...]], ...]


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
    | PatternParser
    | Decolorize
    | LabelFormat
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


RangeFunc = Literal[
    "count_over_time",
    "rate",
    "bytes_over_time",
    "bytes_rate",
    "absent_over_time",
    "sum_over_time",
    "avg_over_time",
    "max_over_time",
    "min_over_time",
    "first_over_time",
    "last_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "quantile_over_time",
]
# Functions over an unwrapped label's values (rate works with or without unwrap).
UNWRAP_FUNCS = frozenset(
    {"sum_over_time", "avg_over_time", "max_over_time", "min_over_time", "first_over_time",
     "last_over_time", "stddev_over_time", "stdvar_over_time", "quantile_over_time"}
)  # fmt: skip
VectorOp = Literal[
    "sum", "avg", "max", "min", "count", "stddev", "stdvar", "topk", "bottomk", "sort", "sort_desc"
]
BinaryOperator = Literal[
    "+", "-", "*", "/", "%", "^", "==", "!=", ">", ">=", "<", "<=", "and", "or", "unless"
]  # fmt: skip


@dataclass(frozen=True)
class Unwrap:
    """``| unwrap latency`` (``conversion``: ``""``, ``"duration"`` → seconds, or ``"bytes"``),
    with the label filters that follow it (``| unwrap latency | __error__=""``)."""

    label: str
    conversion: Literal["", "duration", "bytes"] = ""
    post_filters: tuple[LabelFilterStage, ...] = ()


@dataclass(frozen=True)
class RangeAggregation:
    """``rate({app="api"} |= "error" [5m] offset 1m)``: one sample per line in each window.

    With ``unwrap`` the samples are that label's values; ``param`` is quantile_over_time's φ;
    ``grouping`` (unwrapped functions only) merges series before the window is aggregated.
    """

    func: RangeFunc
    query: LogQuery
    range_ns: int
    offset_ns: int = 0
    unwrap: Unwrap | None = None
    param: float | None = None
    grouping: Grouping | None = None


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
class VectorLiteral:
    """``vector(0)``: one series without labels holding ``value`` at every step."""

    value: float


@dataclass(frozen=True)
class VectorMatching:
    """``on (a, b)`` (``on=True``) or ``ignoring (a, b)`` on a binary operator between vectors."""

    on: bool
    labels: tuple[str, ...]


@dataclass(frozen=True)
class BinaryOp:
    """``lhs op rhs``; with ``return_bool`` a comparison yields 0/1 instead of filtering."""

    op: BinaryOperator
    lhs: MetricExpr
    rhs: MetricExpr
    return_bool: bool = False
    matching: VectorMatching | None = None


MetricExpr = RangeAggregation | VectorAggregation | NumberLiteral | VectorLiteral | BinaryOp
Expr = LogQuery | MetricExpr
