"""LogQL parser: query text → :mod:`sandbox.loki.ast`.

A recursive-descent parser for the LogQL the stand-in evaluates (log pipelines are parsed in
:mod:`sandbox.loki.pipeline_parser`). Valid LogQL it does not evaluate (``group_left``,
``label_replace``, ``rate_counter``, ``ip()`` filters, ...) is refused with a
:class:`~sandbox.loki.errors.ParseError` naming the feature, never silently mis-evaluated.
"""

from __future__ import annotations

from typing import cast, get_args

from sandbox.logs import LabelMatcher
from sandbox.loki import ast
from sandbox.loki.errors import ParseError, unsupported
from sandbox.loki.lexer import Token
from sandbox.loki.pipeline_parser import COMPARE_OPS, PipelineParser
from sandbox.loki.tokens import duration, number

RANGE_FUNCS = frozenset(get_args(ast.RangeFunc))
VECTOR_OPS = frozenset(get_args(ast.VectorOp))
UNSUPPORTED_FUNCS = frozenset({"rate_counter", "label_replace"})
# Binary operators by precedence (higher binds tighter), as in PromQL/LogQL.
PRECEDENCE = {"or": 1, "and": 2, "unless": 2, "==": 3, "!=": 3, ">": 3, ">=": 3, "<": 3, "<=": 3,
              "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "^": 6}  # fmt: skip


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


class _Parser(PipelineParser):
    def parse_query(self) -> ast.Expr:
        expr = self.expr(0)
        tok = self.peek()
        if tok.kind != "$end":
            raise self.unexpected(tok)
        return expr

    # ------------------------------------------------------------ binary operators
    def expr(self, min_prec: int) -> ast.Expr:
        lhs = self.unary()
        while True:
            tok = self.peek()
            prec = PRECEDENCE.get(tok.kind)
            if prec is None or prec < min_prec:
                return lhs
            self.take()
            return_bool = tok.kind in COMPARE_OPS and self.peek().kind == "bool"
            if return_bool:
                self.take()
            matching = self.vector_matching()
            rhs = self.expr(prec if tok.kind == "^" else prec + 1)
            lhs = ast.BinaryOp(
                cast(ast.BinaryOperator, tok.kind),
                self.metric(lhs, tok),
                self.metric(rhs, tok),
                return_bool,
                matching,
            )

    def vector_matching(self) -> ast.VectorMatching | None:
        tok = self.peek()
        if tok.kind not in ("on", "ignoring"):
            if tok.kind in ("group_left", "group_right"):
                raise unsupported(f"many-to-one matching with '{tok.kind}'", tok.line, tok.col)
            return None
        self.take()
        labels = self.label_list()
        nxt = self.peek()
        if nxt.kind in ("group_left", "group_right"):
            raise unsupported(f"many-to-one matching with '{nxt.kind}'", nxt.line, nxt.col)
        return ast.VectorMatching(tok.kind == "on", labels)

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
            return ast.NumberLiteral(number(tok))
        if tok.kind == "(":
            self.take()
            inner = self.expr(0)
            self.expect(")")
            return inner
        if tok.kind in RANGE_FUNCS:
            return self.range_aggregation()
        if tok.kind in VECTOR_OPS:
            return self.vector_aggregation()
        if tok.kind == "vector":
            self.take()
            self.expect("(")
            value = self.expect("NUMBER")
            self.expect(")")
            return ast.VectorLiteral(number(value))
        if tok.kind in UNSUPPORTED_FUNCS:
            raise unsupported(f"the function '{tok.kind}'", tok.line, tok.col)
        raise self.unexpected(tok)

    # ------------------------------------------------------------ range aggregations
    def range_aggregation(self) -> ast.RangeAggregation:
        func = self.take()
        self.expect("(")
        param: float | None = None
        if func.kind == "quantile_over_time":
            param = number(self.expect("NUMBER"))
            self.expect(",")
        query, unwrap, range_tok = self.log_range()
        offset_ns = 0
        if self.peek().kind == "offset":
            self.take()
            offset_ns = duration(self.expect("DURATION"))
        self.expect(")")
        grouping = self.grouping()
        self.check_unwrap(func, unwrap, grouping)
        range_ns = duration(range_tok)
        if range_ns <= 0:
            raise ParseError(
                f"invalid range {range_tok.text!r}: must be positive", range_tok.line, range_tok.col
            )
        return ast.RangeAggregation(
            cast(ast.RangeFunc, func.kind), query, range_ns, offset_ns, unwrap, param, grouping
        )

    def check_unwrap(self, func: Token, unwrap: ast.Unwrap | None, grouping: ast.Grouping | None) -> None:
        """Loki's rules: value functions need ``unwrap``, counting functions refuse it."""
        if func.kind in ast.UNWRAP_FUNCS and unwrap is None:
            raise ParseError(f"invalid aggregation {func.kind} without unwrap")
        if unwrap is not None and func.kind not in ast.UNWRAP_FUNCS and func.kind != "rate":
            raise ParseError(f"invalid aggregation {func.kind} with unwrap")
        if grouping is not None and unwrap is None:
            raise ParseError(f"grouping not allowed for {func.kind} aggregation", func.line, func.col)

    def log_range(self) -> tuple[ast.LogQuery, ast.Unwrap | None, Token]:
        """``{..} pipeline [| unwrap x] [5m]``, ``{..}[5m] pipeline [| unwrap x]`` or ``({..} ...)[5m]``."""
        if self.peek().kind == "(":
            self.take()
            query = self.log_query()
            unwrap = self.unwrap()
            self.expect(")")
            return query, unwrap, self.expect("RANGE")
        matchers = self.selector()
        stages = self.pipeline()
        unwrap = self.unwrap()
        range_tok = self.expect("RANGE")
        if not stages and unwrap is None:
            stages = self.pipeline()
            unwrap = self.unwrap()
        return ast.LogQuery(matchers, stages), unwrap, range_tok

    # ------------------------------------------------------------ vector aggregations
    def vector_aggregation(self) -> ast.VectorAggregation:
        op = self.take()
        grouping = self.grouping()
        self.expect("(")
        param: int | None = None
        if op.kind in ("topk", "bottomk"):
            k = self.expect("NUMBER")
            param = int(number(k))
            if param != number(k) or param <= 0:
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
        return ast.Grouping(self.label_list(), without=kind == "without")

    def label_list(self) -> tuple[str, ...]:
        """``(a, b)``, possibly empty."""
        self.expect("(")
        names: list[str] = []
        while self.peek().kind != ")":
            if names:
                self.expect(",")
            names.append(self.expect_name().text)
        self.take()
        return tuple(names)
