"""The LogQL parser: what it builds, and how it refuses what it cannot evaluate."""

from __future__ import annotations

import pytest

from sandbox.logs import LabelMatcher
from sandbox.loki import ast
from sandbox.loki.errors import ParseError
from sandbox.loki.logql import parse, parse_selector


def test_stream_selector_with_every_operator() -> None:
    expr = parse('{app="api", env!="dev", pod=~"api-.+", node!~"n[12]"}')
    assert expr == ast.LogQuery(
        (
            LabelMatcher("app", "=", "api"),
            LabelMatcher("env", "!=", "dev"),
            LabelMatcher("pod", "=~", "api-.+"),
            LabelMatcher("node", "!~", "n[12]"),
        )
    )


def test_pipeline_stages_in_order() -> None:
    expr = parse(
        '{app="api"} |= "GET" != "health" |~ `5\\d\\d` | json | level="error" '
        '| line_format "{{.msg}}" | drop trace_id'
    )
    assert isinstance(expr, ast.LogQuery)
    kinds = [type(stage).__name__ for stage in expr.stages]
    assert kinds == [
        "LineFilter",
        "LineFilter",
        "LineFilter",
        "JsonParser",
        "LabelFilterStage",
        "LineFormat",
        "DropLabels",
    ]


def test_line_filter_alternatives_with_or() -> None:
    expr = parse('{app="api"} |= "timeout" or "refused"')
    assert isinstance(expr, ast.LogQuery)
    assert expr.stages == (ast.LineFilter("|=", ("timeout", "refused")),)


def test_label_filter_precedence_and_binds_tighter_than_or() -> None:
    expr = parse('{app="api"} | logfmt | level="error" or level="warn" and status >= 500')
    assert isinstance(expr, ast.LogQuery)
    stage = expr.stages[1]
    assert isinstance(stage, ast.LabelFilterStage)
    assert isinstance(stage.expr, ast.LabelFilterOr)
    assert isinstance(stage.expr.right, ast.LabelFilterAnd)


def test_numeric_duration_and_bytes_filters() -> None:
    expr = parse('{app="api"} | logfmt | status != 200, latency > 1.5s, size <= 2KiB')
    assert isinstance(expr, ast.LogQuery)
    stage = expr.stages[1]
    assert isinstance(stage, ast.LabelFilterStage)
    found: list[ast.NumericLabelFilter] = []

    def walk(node: ast.LabelFilter) -> None:
        if isinstance(node, ast.LabelFilterAnd | ast.LabelFilterOr):
            walk(node.left)
            walk(node.right)
        else:
            assert isinstance(node, ast.NumericLabelFilter)
            found.append(node)

    walk(stage.expr)
    assert [(f.name, f.op, f.value, f.kind) for f in found] == [
        ("status", "!=", 200.0, "number"),
        ("latency", ">", 1.5, "duration"),
        ("size", "<=", 2048.0, "bytes"),
    ]


def test_metric_query_with_grouping_before_or_after() -> None:
    before = parse('sum by (level) (count_over_time({app="api"} | json [5m]))')
    after = parse('sum(count_over_time({app="api"} | json [5m])) by (level)')
    assert before == after
    assert isinstance(before, ast.VectorAggregation)
    assert before.grouping == ast.Grouping(("level",))
    assert isinstance(before.inner, ast.RangeAggregation)
    assert before.inner.range_ns == 300 * 10**9


def test_range_may_follow_the_selector_and_carry_an_offset() -> None:
    expr = parse('rate({app="api"}[1m] |= "error" offset 5m)')
    assert isinstance(expr, ast.RangeAggregation)
    assert expr.query.stages == (ast.LineFilter("|=", ("error",)),)
    assert (expr.range_ns, expr.offset_ns) == (60 * 10**9, 300 * 10**9)


def test_topk_and_binary_operator_precedence() -> None:
    expr = parse('topk(3, sum by (app) (rate({ns="a"}[1m]))) * 100 + 1 > bool 5')
    assert isinstance(expr, ast.BinaryOp)
    assert expr.op == ">" and expr.return_bool
    assert isinstance(expr.lhs, ast.BinaryOp) and expr.lhs.op == "+"
    inner = expr.lhs.lhs
    assert isinstance(inner, ast.BinaryOp) and inner.op == "*"
    assert isinstance(inner.lhs, ast.VectorAggregation) and inner.lhs.param == 3


def test_parse_selector_rejects_a_pipeline() -> None:
    assert parse_selector('{app="api"}') == (LabelMatcher("app", "=", "api"),)
    with pytest.raises(ParseError, match="only label matchers are supported"):
        parse_selector('{app="api"} |= "x"')


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('{app="api"', "parse error at line 1, col 11: syntax error: unexpected $end, expecting , or }"),
        ('{app="api"} |= error', "parse error at line 1, col 16: syntax error: unexpected IDENTIFIER"),
        ('{app="api"}\n| 5', "parse error at line 2, col 3: syntax error: unexpected NUMBER"),
        ('{app="api"} | level', "syntax error: unexpected $end, expecting = or != or =~ or !~ or =="),
        ('rate({app="api"})', "syntax error: unexpected ), expecting RANGE"),
        ('{app=~".*"}', "parse error : queries require at least one regexp or equality matcher"),
        ('{app!="api"}', "parse error : queries require at least one regexp or equality matcher"),
        ('{app="api"} |~ "("', "error parsing regexp"),
        ('rate({app="api"}[5minutes])', 'col 17: not a valid duration string: "5minutes"'),
        ('sum({app="api"})', "need metric queries"),
        ("", "syntax error: unexpected $end"),
    ],
)
def test_syntax_errors_read_like_loki(query: str, message: str) -> None:
    with pytest.raises(ParseError) as err:
        parse(query)
    assert message in str(err.value)
    assert str(err.value).startswith("parse error")


@pytest.mark.parametrize(
    ("query", "feature"),
    [
        ('{app="api"} | logfmt | unwrap latency', "'unwrap'"),
        ('sum_over_time({app="api"} | logfmt | unwrap latency [5m])', "'sum_over_time'"),
        ('{app="api"} | pattern "<ip> <_>"', "'pattern'"),
        ('{app="api"} | label_format lvl=level', "'label_format'"),
        ('{app="api"} | line_format "{{ .msg | upper }}"', "line_format action"),
        ('{app="api"} | json level="lvl"', "json with parameters"),
        ('count_over_time({app="api"}[5m]) or vector(0)', "set operator 'or'"),
        ('sum(rate({a="b"}[1m])) / on (app) sum(rate({a="b"}[1m]))', "vector matching"),
        ('absent_over_time({app="api"}[5m])', "'absent_over_time'"),
    ],
)
def test_unsupported_logql_is_refused_by_name(query: str, feature: str) -> None:
    with pytest.raises(ParseError) as err:
        parse(query)
    assert feature in str(err.value)
    assert "not supported by the sandbox Loki stand-in" in str(err.value)
