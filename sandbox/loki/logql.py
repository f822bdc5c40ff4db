"""LogQL parser: query text → :mod:`sandbox.loki.ast`.

A recursive-descent parser for the subset of LogQL the stand-in evaluates. Valid LogQL it does
not evaluate (``unwrap``, ``pattern``, ``label_format``, vector matching, ...) is refused with a
:class:`~sandbox.loki.errors.ParseError` naming the feature, never silently mis-evaluated.
"""

from __future__ import annotations

import re
from typing import cast, get_args

from sandbox.logs import LabelMatcher, MatchOp
from sandbox.loki import ast
from sandbox.loki.errors import ParseError, unsupported
from sandbox.loki.lexer import Token, tokenize
from sandbox.loki.templates import parse_line_format
from sandbox.loki.units import parse_bytes, parse_duration_ns

MATCH_OPS = ("=", "!=", "=~", "!~")
LINE_FILTER_OPS = ("|=", "!=", "|~", "!~")
COMPARE_OPS = ("==", "!=", ">", ">=", "<", "<=")
RANGE_FUNCS = frozenset(get_args(ast.RangeFunc))
VECTOR_OPS = frozenset(get_args(ast.VectorOp))
UNSUPPORTED_RANGE_FUNCS = frozenset(
    {"absent_over_time", "sum_over_time", "avg_over_time", "max_over_time", "min_over_time",
     "first_over_time", "last_over_time", "stddev_over_time", "stdvar_over_time",
     "quantile_over_time", "rate_counter"}
)  # fmt: skip
UNSUPPORTED_STAGES = frozenset({"pattern", "unpack", "label_format", "unwrap", "decolorize", "distinct"})
# Binary operators by precedence (higher binds tighter), as in PromQL/LogQL.
PRECEDENCE = {"or": 1, "and": 2, "unless": 2, "==": 3, "!=": 3, ">": 3, ">=": 3, "<": 3, "<=": 3,
              "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "^": 6}  # fmt: skip
EMPTY_MATCHER_MSG = (
    "queries require at least one regexp or equality matcher that does not have an "
    'empty-compatible value. For instance, app=~".*" does not meet this requirement, '
    'but app=~".+" will'
)


def parse(query: str) -> ast.Expr:
    """Parse a full LogQL query (a log query or a metric query)."""
    return _Parser(query).parse_query()


def parse_selector(query: str) -> tuple[LabelMatcher, ...]:
    """Parse a bare stream selector such as ``{app="api"}`` (series and label-values APIs)."""
    parser = _Parser(query)
    matchers = parser.selector()
    if parser.peek().kind != "$end":
        raise ParseError("only label matchers are supported")
    return matchers


class _Parser:
    def __init__(self, query: str) -> None:
        if not query.strip():
            raise ParseError("syntax error: unexpected $end")
        self.tokens = tokenize(query)
        self.pos = 0

    # ------------------------------------------------------------ token helpers
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        tok = self.peek()
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return tok

    def expect(self, *kinds: str) -> Token:
        tok = self.peek()
        if tok.kind not in kinds:
            raise self.unexpected(tok, kinds)
        return self.take()

    @staticmethod
    def unexpected(tok: Token, expecting: tuple[str, ...] = ()) -> ParseError:
        msg = f"syntax error: unexpected {tok.describe()}"
        if expecting:
            msg += ", expecting " + " or ".join(expecting)
        return ParseError(msg, tok.line, tok.col)

    # ------------------------------------------------------------ expressions
    def parse_query(self) -> ast.Expr:
        expr = self.expr(0)
        tok = self.peek()
        if tok.kind != "$end":
            raise self.unexpected(tok)
        return expr

    def expr(self, min_prec: int) -> ast.Expr:
        lhs = self.unary()
        while True:
            tok = self.peek()
            prec = PRECEDENCE.get(tok.kind)
            if prec is None or prec < min_prec:
                return lhs
            self.take()
            if tok.kind in ("and", "or", "unless"):
                raise unsupported(f"the set operator '{tok.kind}'", tok.line, tok.col)
            return_bool = tok.kind in COMPARE_OPS and self.peek().kind == "bool"
            if return_bool:
                self.take()
            if self.peek().kind in ("on", "ignoring", "group_left", "group_right"):
                mod = self.peek()
                raise unsupported(f"vector matching with '{mod.kind}'", mod.line, mod.col)
            rhs = self.expr(prec if tok.kind == "^" else prec + 1)
            lhs = ast.BinaryOp(
                cast(ast.BinaryOperator, tok.kind),
                self.metric(lhs, tok),
                self.metric(rhs, tok),
                return_bool,
            )

    @staticmethod
    def metric(expr: ast.Expr, at: Token) -> ast.MetricExpr:
        if isinstance(expr, ast.LogQuery):
            raise ParseError(
                f"unexpected log query around {at.describe()}: binary operations and aggregations "
                "need metric queries, e.g. count_over_time({...}[5m])",
                at.line,
                at.col,
            )
        return expr

    def unary(self) -> ast.Expr:
        tok = self.peek()
        if tok.kind in ("-", "+"):
            self.take()
            operand = self.metric(self.expr(PRECEDENCE["*"]), tok)
            if tok.kind == "+":
                return operand
            if isinstance(operand, ast.NumberLiteral):
                return ast.NumberLiteral(-operand.value)
            return ast.BinaryOp("*", ast.NumberLiteral(-1.0), operand)
        return self.primary()

    def primary(self) -> ast.Expr:
        tok = self.peek()
        if tok.kind == "{":
            return self.log_query()
        if tok.kind == "NUMBER":
            self.take()
            return ast.NumberLiteral(_number(tok))
        if tok.kind == "(":
            self.take()
            inner = self.expr(0)
            self.expect(")")
            return inner
        if tok.kind in RANGE_FUNCS:
            return self.range_aggregation()
        if tok.kind in VECTOR_OPS:
            return self.vector_aggregation()
        if tok.kind in UNSUPPORTED_RANGE_FUNCS or tok.kind in ("label_replace", "vector"):
            raise unsupported(f"the function '{tok.kind}'", tok.line, tok.col)
        raise self.unexpected(tok)

    # ------------------------------------------------------------ log queries
    def log_query(self) -> ast.LogQuery:
        matchers = self.selector()
        return ast.LogQuery(matchers, self.pipeline())

    def selector(self) -> tuple[LabelMatcher, ...]:
        self.expect("{")
        matchers: list[LabelMatcher] = []
        matchers.append(self.matcher())
        while self.expect(",", "}").kind == ",":
            matchers.append(self.matcher())
        if not any(m.op in ("=", "=~") and not m.matches({}) for m in matchers):
            raise ParseError(EMPTY_MATCHER_MSG)
        return tuple(matchers)

    def matcher(self) -> LabelMatcher:
        name = self.take()
        if name.kind != "IDENTIFIER" and not name.kind.isidentifier():
            raise self.unexpected(name, ("IDENTIFIER",))
        op = self.expect(*MATCH_OPS)
        value = self.expect("STRING")
        return _label_matcher(name.text, op, value)

    def pipeline(self) -> tuple[ast.Stage, ...]:
        stages: list[ast.Stage] = []
        while True:
            tok = self.peek()
            if tok.kind in LINE_FILTER_OPS:
                stages.append(self.line_filter())
            elif tok.kind == "|":
                self.take()
                stages.append(self.stage())
            else:
                return tuple(stages)

    def line_filter(self) -> ast.LineFilter:
        op = self.take()
        if self.peek().kind == "ip":
            raise unsupported("the ip() line filter", self.peek().line, self.peek().col)
        values = [self.expect("STRING")]
        while self.peek().kind == "or" and self.peek(1).kind == "STRING":
            self.take()
            values.append(self.take())
        texts = tuple(v.text for v in values)
        regexes: tuple[re.Pattern[str], ...] = ()
        if op.kind in ("|~", "!~"):
            regexes = tuple(_compile(v.text, v) for v in values)
        return ast.LineFilter(cast(ast.LineFilterOp, op.kind), texts, regexes)

    def stage(self) -> ast.Stage:
        tok = self.take()
        if tok.kind == "json":
            if self.peek().kind == "IDENTIFIER":
                raise unsupported("json with parameters", tok.line, tok.col)
            return ast.JsonParser()
        if tok.kind == "logfmt":
            if self.peek().kind in ("-", "IDENTIFIER"):
                raise unsupported("logfmt flags or parameters", tok.line, tok.col)
            return ast.LogfmtParser()
        if tok.kind == "regexp":
            pattern = self.expect("STRING")
            regex = _compile(pattern.text, pattern)
            if not regex.groupindex:
                raise ParseError("at least one named capture must be supplied", pattern.line, pattern.col)
            return ast.RegexpParser(regex)
        if tok.kind == "line_format":
            template = self.expect("STRING")
            return ast.LineFormat(parse_line_format(template.text, template.line, template.col))
        if tok.kind in ("drop", "keep"):
            return self.drop_or_keep(tok)
        if tok.kind in UNSUPPORTED_STAGES:
            raise unsupported(f"the '{tok.kind}' stage", tok.line, tok.col)
        if tok.kind in ("IDENTIFIER", "("):
            self.pos -= 1
            return ast.LabelFilterStage(self.label_filter_or())
        raise self.unexpected(tok, ("IDENTIFIER", "json", "logfmt", "regexp", "line_format"))

    def drop_or_keep(self, tok: Token) -> ast.DropLabels | ast.KeepLabels:
        names = [self.expect("IDENTIFIER").text]
        while self.peek().kind == ",":
            self.take()
            names.append(self.expect("IDENTIFIER").text)
        if self.peek().kind in MATCH_OPS:
            raise unsupported(f"{tok.kind} with label matchers", tok.line, tok.col)
        return ast.DropLabels(tuple(names)) if tok.kind == "drop" else ast.KeepLabels(tuple(names))

    # ------------------------------------------------------------ label filters
    def label_filter_or(self) -> ast.LabelFilter:
        left = self.label_filter_and()
        while self.peek().kind == "or":
            self.take()
            left = ast.LabelFilterOr(left, self.label_filter_and())
        return left

    def label_filter_and(self) -> ast.LabelFilter:
        left = self.label_filter_primary()
        while True:
            kind = self.peek().kind
            if kind in ("and", ","):
                self.take()
            elif kind not in ("IDENTIFIER", "("):
                return left
            left = ast.LabelFilterAnd(left, self.label_filter_primary())

    def label_filter_primary(self) -> ast.LabelFilter:
        tok = self.peek()
        if tok.kind == "(":
            self.take()
            inner = self.label_filter_or()
            self.expect(")")
            return inner
        name = self.expect("IDENTIFIER")
        op = self.expect(*MATCH_OPS, *COMPARE_OPS)
        if self.peek().kind == "ip":
            raise unsupported("the ip() label filter", self.peek().line, self.peek().col)
        if op.kind in MATCH_OPS and self.peek().kind == "STRING":
            return ast.StringLabelFilter(_label_matcher(name.text, op, self.take()))
        return self.numeric_filter(name, op)

    def numeric_filter(self, name: Token, op: Token) -> ast.NumericLabelFilter:
        sign = -1.0 if self.peek().kind == "-" and self.take() else 1.0
        value = self.expect("NUMBER", "DURATION", "BYTES")
        kind = {"NUMBER": "number", "DURATION": "duration", "BYTES": "bytes"}[value.kind]
        if value.kind == "NUMBER":
            number = _number(value)
        elif value.kind == "DURATION":
            number = parse_duration_ns(value.text) / 1e9
        else:
            number = float(parse_bytes(value.text))
        cmp = "==" if op.kind == "=" else op.kind
        if cmp not in COMPARE_OPS:
            raise self.unexpected(op, COMPARE_OPS)
        return ast.NumericLabelFilter(
            name.text, cast(ast.CompareOp, cmp), sign * number, cast(ast.ValueKind, kind)
        )

    # ------------------------------------------------------------ metric queries
    def range_aggregation(self) -> ast.RangeAggregation:
        func = self.take()
        self.expect("(")
        query, range_tok = self.log_range()
        offset_ns = 0
        if self.peek().kind == "offset":
            self.take()
            offset_ns = parse_duration_ns(self.expect("DURATION").text)
        self.expect(")")
        if self.peek().kind in ("by", "without"):
            raise ParseError(
                f"grouping not allowed for {func.kind} aggregation", self.peek().line, self.peek().col
            )
        range_ns = parse_duration_ns(range_tok.text)
        if range_ns <= 0:
            raise ParseError(
                f"invalid range {range_tok.text!r}: must be positive", range_tok.line, range_tok.col
            )
        return ast.RangeAggregation(cast(ast.RangeFunc, func.kind), query, range_ns, offset_ns)

    def log_range(self) -> tuple[ast.LogQuery, Token]:
        if self.peek().kind == "(":
            self.take()
            query = self.log_query()
            self.expect(")")
            return query, self.expect("RANGE")
        matchers = self.selector()
        stages = list(self.pipeline())
        range_tok = self.peek()
        if range_tok.kind != "RANGE":
            if range_tok.kind == "|" and self.peek(1).kind == "unwrap":
                raise unsupported("unwrap", self.peek(1).line, self.peek(1).col)
            raise self.unexpected(range_tok, ("RANGE",))
        self.take()
        if not stages:
            stages = list(self.pipeline())
        if self.peek().kind == "|" and self.peek(1).kind == "unwrap":
            raise unsupported("unwrap", self.peek(1).line, self.peek(1).col)
        return ast.LogQuery(matchers, tuple(stages)), range_tok

    def vector_aggregation(self) -> ast.VectorAggregation:
        op = self.take()
        grouping = self.grouping()
        self.expect("(")
        param: int | None = None
        if op.kind in ("topk", "bottomk"):
            k = self.expect("NUMBER")
            param = int(_number(k))
            if param != _number(k) or param <= 0:
                raise ParseError(
                    f"invalid parameter for {op.kind}: {k.text} (must be a positive integer)", k.line, k.col
                )
            self.expect(",")
        inner = self.metric(self.expr(0), op)
        self.expect(")")
        after = self.grouping()
        if grouping and after:
            raise self.unexpected(self.tokens[self.pos - 1])
        grouping = grouping or after
        if grouping and op.kind in ("sort", "sort_desc"):
            raise ParseError(f"grouping not allowed for {op.kind}", op.line, op.col)
        return ast.VectorAggregation(cast(ast.VectorOp, op.kind), inner, grouping, param)

    def grouping(self) -> ast.Grouping | None:
        kind = self.peek().kind
        if kind not in ("by", "without"):
            return None
        self.take()
        self.expect("(")
        names: list[str] = []
        while self.peek().kind != ")":
            if names:
                self.expect(",")
            tok = self.take()
            if tok.kind != "IDENTIFIER" and not tok.kind.isidentifier():
                raise self.unexpected(tok, ("IDENTIFIER",))
            names.append(tok.text)
        self.take()
        return ast.Grouping(tuple(names), without=kind == "without")


def _label_matcher(name: str, op: Token, value: Token) -> LabelMatcher:
    try:
        return LabelMatcher(name, cast(MatchOp, op.kind), value.text)
    except ValueError as exc:
        raise ParseError(f"error parsing regexp: {exc}", value.line, value.col) from exc


def _compile(pattern: str, at: Token) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ParseError(f"error parsing regexp: {exc} in {pattern!r}", at.line, at.col) from exc


def _number(tok: Token) -> float:
    text = tok.text
    return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
