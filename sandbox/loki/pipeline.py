"""Running a LogQL pipeline over log lines.

:func:`compile_pipeline` turns the parsed stages into one function ``(line, labels) -> (line,
labels) | None`` (``None`` = filtered out). Labels are copied only when a stage changes them, so a
pipeline of line filters costs a few string searches per line.

Error semantics follow Loki: a parser that fails sets ``__error__`` (``JSONParserErr``,
``LabelFilterErr``) and ``__error_details__``; a line carrying an error passes every label filter
except one on ``__error__`` itself.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Collection, Mapping

from sandbox.loki import ast
from sandbox.loki.extract import (
    Extractor,
    json_extractor,
    logfmt_extractor,
    pattern_extractor,
    regexp_extractor,
    sanitize_label_name,
)
from sandbox.loki.templates import render
from sandbox.loki.units import try_parse_bytes, try_parse_duration_ns

Labels = Mapping[str, str]
StageFn = Callable[[str, Labels, Labels], tuple[str, Labels] | None]
Pipeline = Callable[[str, Labels], tuple[str, Labels] | None]

ERROR = "__error__"
ERROR_DETAILS = "__error_details__"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def compile_pipeline(stages: tuple[ast.Stage, ...], hints: Collection[str] | None = None) -> Pipeline:
    """One function running every stage in order.

    ``hints``, when given, limits which labels the parsers extract (Loki does the same when only
    some labels can matter to the result, e.g. under ``sum by (level)``).
    """
    fns = [_compile_stage(stage, hints) for stage in stages]

    def run(line: str, base: Labels) -> tuple[str, Labels] | None:
        labels = base
        for fn in fns:
            out = fn(line, labels, base)
            if out is None:
                return None
            line, labels = out
        return line, labels

    return run


def _compile_stage(stage: ast.Stage, hints: Collection[str] | None) -> StageFn:
    if isinstance(stage, ast.LineFilter):
        return _line_filter(stage)
    if isinstance(stage, ast.JsonParser):
        return _parser_stage(json_extractor(stage.params), "JSONParserErr", hints)
    if isinstance(stage, ast.LogfmtParser):
        return _parser_stage(logfmt_extractor(stage.params), "LogfmtParserErr", hints)
    if isinstance(stage, ast.RegexpParser):
        return _parser_stage(regexp_extractor(stage.regex), "RegexpParserErr", hints)
    if isinstance(stage, ast.PatternParser):
        return _parser_stage(pattern_extractor(stage.parts), "PatternParserErr", hints)
    if isinstance(stage, ast.LabelFilterStage):
        return _label_filter_stage(_label_filter(stage.expr))
    if isinstance(stage, ast.LineFormat):
        parts = stage.parts
        return lambda line, labels, base: (render(parts, line, labels), labels)
    if isinstance(stage, ast.LabelFormat):
        return _label_format(stage)
    if isinstance(stage, ast.Decolorize):
        return lambda line, labels, base: (_ANSI.sub("", line), labels)
    if isinstance(stage, ast.DropLabels):
        dropped = frozenset(stage.names)
        return lambda line, labels, base: (line, {k: v for k, v in labels.items() if k not in dropped})
    kept = frozenset(stage.names)
    return lambda line, labels, base: (line, {k: v for k, v in labels.items() if k in kept})


def _label_format(stage: ast.LabelFormat) -> StageFn:
    """Renames (``dst=src`` moves the value) and templates, all read from the labels before."""

    def run(line: str, labels: Labels, base: Labels) -> tuple[str, Labels] | None:
        out = dict(labels)
        for dst, src, parts in stage.ops:
            if src is not None:
                out[dst] = labels.get(src, "")
                if src not in (op[0] for op in stage.ops):
                    out.pop(src, None)
            else:
                out[dst] = render(parts, line, labels)
        return line, out

    return run


def compile_unwrap(unwrap: ast.Unwrap) -> Callable[[Labels], tuple[float, dict[str, str]] | None]:
    """``| unwrap x [| filters]``: the sample value and the labels without ``x``; ``None`` when a
    post-unwrap filter drops the line. A value that does not convert sets ``SampleExtractionErr``."""
    convert = _CONVERTERS[unwrap.conversion or "number"]
    filters = [_label_filter(f.expr) for f in unwrap.post_filters]

    def run(labels: Labels) -> tuple[float, dict[str, str]] | None:
        out = dict(labels)
        raw = out.pop(unwrap.label, "")
        value = convert(raw)
        if value is None and ERROR not in out:
            out[ERROR] = "SampleExtractionErr"
            out[ERROR_DETAILS] = f"cannot convert {raw!r} of label {unwrap.label!r} to a number"
        if not all(f(out) for f in filters):
            return None
        return (value if value is not None else 0.0), out

    return run


# ---------------------------------------------------------------- line filters
def _line_filter(stage: ast.LineFilter) -> StageFn:
    if stage.op in ("|=", "!="):
        values = stage.values
        matches: Callable[[str], bool] = lambda line: any(v in line for v in values)  # noqa: E731
    else:
        regexes = stage.regexes
        matches = lambda line: any(r.search(line) for r in regexes)  # noqa: E731
    keep_if = stage.op in ("|=", "|~")

    def run(line: str, labels: Labels, base: Labels) -> tuple[str, Labels] | None:
        return (line, labels) if matches(line) == keep_if else None

    return run


# ---------------------------------------------------------------- parsers
def _parser_stage(extract: Extractor, error_name: str, hints: Collection[str] | None) -> StageFn:
    """Wrap an extractor ``line -> (pairs, error)``: sanitize names, avoid clashes, set errors."""

    def run(line: str, labels: Labels, base: Labels) -> tuple[str, Labels] | None:
        pairs, error = extract(line)
        out = dict(labels)
        for key, value in pairs:
            name = sanitize_label_name(key)
            if name in base:
                name += "_extracted"
            if hints is None or name in hints:
                out[name] = value
        if error is not None and ERROR not in out:
            out[ERROR] = error_name
            out[ERROR_DETAILS] = error
        return line, out

    return run


# ---------------------------------------------------------------- label filters
Predicate = Callable[[dict[str, str]], bool]


def _label_filter_stage(predicate: Predicate) -> StageFn:
    def run(line: str, labels: Labels, base: Labels) -> tuple[str, Labels] | None:
        # A parser stage already gave this line its own dict; only the stream's is shared.
        mutable = labels if labels is not base and isinstance(labels, dict) else dict(labels)
        if not predicate(mutable):
            return None
        return line, mutable

    return run


def _label_filter(expr: ast.LabelFilter) -> Predicate:
    if isinstance(expr, ast.LabelFilterAnd):
        left, right = _label_filter(expr.left), _label_filter(expr.right)
        return lambda labels: left(labels) and right(labels)
    if isinstance(expr, ast.LabelFilterOr):
        left, right = _label_filter(expr.left), _label_filter(expr.right)
        return lambda labels: left(labels) or right(labels)
    if isinstance(expr, ast.StringLabelFilter):
        return _string_filter(expr)
    return _numeric_filter(expr)


def _string_filter(expr: ast.StringLabelFilter) -> Predicate:
    matcher = expr.matcher

    def run(labels: dict[str, str]) -> bool:
        if matcher.name != ERROR and ERROR in labels:
            return True  # Loki: an erroring line is only filtered by __error__ matchers
        return matcher.matches(labels)

    return run


def _numeric_filter(expr: ast.NumericLabelFilter) -> Predicate:
    compare = _COMPARE[expr.op]
    convert = _CONVERTERS[expr.kind]

    def run(labels: dict[str, str]) -> bool:
        if ERROR in labels:
            return True
        raw = labels.get(expr.name)
        if raw is None:
            return False
        value = convert(raw)
        if value is None:
            labels[ERROR] = "LabelFilterErr"
            labels[ERROR_DETAILS] = f"cannot convert {raw!r} of label {expr.name!r} to a {expr.kind}"
            return True
        return compare(value, expr.value)

    return run


def _to_number(raw: str) -> float | None:
    try:
        return float(raw.strip())
    except ValueError:
        return None


def _to_seconds(raw: str) -> float | None:
    ns = 0 if raw.strip() == "0" else try_parse_duration_ns(raw.strip())
    return None if ns is None else ns / 1e9


def _to_bytes(raw: str) -> float | None:
    value = try_parse_bytes(raw)
    return None if value is None else float(value)


_CONVERTERS: dict[str, Callable[[str], float | None]] = {
    "number": _to_number,
    "duration": _to_seconds,
    "bytes": _to_bytes,
}
