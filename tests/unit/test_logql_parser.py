"""The LogQL parser: what it builds, and how it refuses what it cannot evaluate."""

from __future__ import annotations

import re

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
        ('{app="api"} | unpack', "'unpack'"),
        ('{app="api"} | distinct level', "'distinct'"),
        ('{app="api"} |= ip("10.0.0.1")', "ip() line filter"),
        ('{app="api"} | addr = ip("10.0.0.0/8")', "ip() label filter"),
        ('{app="api"} | logfmt --strict', "logfmt flags"),
        ('{app="api"} | line_format "{{ .msg | upper }}"', "line_format action"),
        ('rate_counter({app="api"} | logfmt | unwrap n [5m])', "'rate_counter'"),
        ('label_replace(rate({a="b"}[1m]), "x", "$1", "app", "(.*)")', "'label_replace'"),
        ('sum by (app) (rate({a="b"}[1m])) / on (app) group_left sum(rate({a="b"}[1m]))', "group_left"),
    ],
)
def test_unsupported_logql_is_refused_by_name(query: str, feature: str) -> None:
    with pytest.raises(ParseError) as err:
        parse(query)
    assert feature in str(err.value)
    assert "not supported by the sandbox Loki stand-in" in str(err.value)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('sum_over_time({app="api"}[5m])', "parse error : invalid aggregation sum_over_time without unwrap"),
        (
            'count_over_time({app="api"} | logfmt | unwrap n [5m])',
            "invalid aggregation count_over_time with unwrap",
        ),
        ('count_over_time({app="api"}[5m]) by (pod)', "grouping not allowed for count_over_time"),
        ('{app="api"} | logfmt | unwrap n', "syntax error: unexpected |"),
        ('{app="api"} | pattern "<_> x"', "at least one capture is required"),
        ('{app="api"} | pattern "<a><b>"', "consecutive captures"),
        ('{app="api"} | label_format a=b, a=c', "multiple label name 'a' not allowed"),
        ('{app="api"} | regexp "(a)"', "at least one named capture must be supplied"),
    ],
)
def test_lokis_semantic_rules(query: str, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)):
        parse(query)


def test_unwrap_with_conversion_and_post_filters() -> None:
    expr = parse(
        'quantile_over_time(0.99, {app="api"} | logfmt | unwrap duration(latency) | __error__="" [5m]) by (pod)'
    )
    assert isinstance(expr, ast.RangeAggregation)
    assert expr.param == 0.99
    assert expr.grouping == ast.Grouping(("pod",))
    assert expr.unwrap is not None
    assert (expr.unwrap.label, expr.unwrap.conversion) == ("latency", "duration")
    assert len(expr.unwrap.post_filters) == 1


def test_parser_parameters() -> None:
    expr = parse(
        '{app="api"} | json code="response.status", first="servers[0]", ua=`headers["User-Agent"]`, level'
    )
    assert isinstance(expr, ast.LogQuery)
    assert expr.stages == (
        ast.JsonParser(
            (
                ("code", ("response", "status")),
                ("first", ("servers", 0)),
                ("ua", ("headers", "User-Agent")),
                ("level", ("level",)),
            )
        ),
    )
    logfmt = parse('{app="api"} | logfmt lvl="level", msg')
    assert isinstance(logfmt, ast.LogQuery)
    assert logfmt.stages == (ast.LogfmtParser((("lvl", "level"), ("msg", "msg"))),)


def test_set_operators_and_vector_matching() -> None:
    expr = parse(
        'sum by (app) (rate({a="b"}[1m])) / ignoring (code) sum by (app, code) (rate({a="b"}[1m])) or vector(0)'
    )
    assert isinstance(expr, ast.BinaryOp)
    assert expr.op == "or"
    assert expr.rhs == ast.VectorLiteral(0.0)
    assert isinstance(expr.lhs, ast.BinaryOp)
    assert expr.lhs.matching == ast.VectorMatching(on=False, labels=("code",))
