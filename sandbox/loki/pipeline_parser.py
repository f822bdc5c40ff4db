"""Parsing log queries: stream selectors and the pipeline stages after them."""

from __future__ import annotations

import re
from typing import Literal, cast

from sandbox.logs import LabelMatcher
from sandbox.loki import ast
from sandbox.loki.errors import ParseError, unsupported
from sandbox.loki.lexer import Token
from sandbox.loki.templates import parse_line_format
from sandbox.loki.tokens import TokenStream, compile_regex, duration, label_matcher, number
from sandbox.loki.units import parse_bytes

MATCH_OPS = ("=", "!=", "=~", "!~")
LINE_FILTER_OPS = ("|=", "!=", "|~", "!~")
COMPARE_OPS = ("==", "!=", ">", ">=", "<", "<=")
UNSUPPORTED_STAGES = frozenset({"unpack", "distinct"})
EMPTY_MATCHER_MSG = (
    "queries require at least one regexp or equality matcher that does not have an "
    'empty-compatible value. For instance, app=~".*" does not meet this requirement, '
    'but app=~".+" will'
)
_JSON_PATH_PART = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')
_PATTERN_CAPTURE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")
_UNWRAP_CONVERSIONS = {"duration": "duration", "duration_seconds": "duration", "bytes": "bytes"}


class PipelineParser(TokenStream):
    """Selectors, line filters, parsers, label filters, formatters and ``unwrap``."""

    def log_query(self) -> ast.LogQuery:
        matchers = self.selector()
        return ast.LogQuery(matchers, self.pipeline())

    def selector(self) -> tuple[LabelMatcher, ...]:
        self.expect("{")
        matchers = [self.matcher()]
        while self.expect(",", "}").kind == ",":
            matchers.append(self.matcher())
        if not any(m.op in ("=", "=~") and not m.matches({}) for m in matchers):
            raise ParseError(EMPTY_MATCHER_MSG)
        return tuple(matchers)

    def matcher(self) -> LabelMatcher:
        name = self.expect_name()
        op = self.expect(*MATCH_OPS)
        return label_matcher(name.text, op, self.expect("STRING"))

    def pipeline(self) -> tuple[ast.Stage, ...]:
        """Stages up to the end of the log query (a range, ``)``, ``| unwrap`` or the end)."""
        stages: list[ast.Stage] = []
        while True:
            tok = self.peek()
            if tok.kind in LINE_FILTER_OPS:
                stages.append(self.line_filter())
            elif tok.kind == "|" and self.peek(1).kind != "unwrap":
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
        regexes: tuple[re.Pattern[str], ...] = ()
        if op.kind in ("|~", "!~"):
            regexes = tuple(compile_regex(v.text, v) for v in values)
        return ast.LineFilter(cast(ast.LineFilterOp, op.kind), tuple(v.text for v in values), regexes)

    def stage(self) -> ast.Stage:
        tok = self.take()
        simple: dict[str, ast.Stage] = {"decolorize": ast.Decolorize()}
        if tok.kind in simple:
            return simple[tok.kind]
        if tok.kind == "json":
            return ast.JsonParser(tuple((name, _json_path(path)) for name, path in self.extraction_params()))
        if tok.kind == "logfmt":
            if self.peek().kind == "-":
                raise unsupported("logfmt flags (--strict, --keep-empty)", tok.line, tok.col)
            return ast.LogfmtParser(tuple((n, p.text) for n, p in self.extraction_params()))
        if tok.kind == "regexp":
            pattern = self.expect("STRING")
            regex = compile_regex(pattern.text, pattern)
            if not regex.groupindex:
                raise ParseError("at least one named capture must be supplied", pattern.line, pattern.col)
            return ast.RegexpParser(regex)
        if tok.kind == "pattern":
            return ast.PatternParser(_pattern_parts(self.expect("STRING")))
        if tok.kind == "line_format":
            template = self.expect("STRING")
            return ast.LineFormat(parse_line_format(template.text, template.line, template.col))
        if tok.kind == "label_format":
            return self.label_format()
        if tok.kind in ("drop", "keep"):
            return self.drop_or_keep(tok)
        if tok.kind in UNSUPPORTED_STAGES:
            raise unsupported(f"the '{tok.kind}' stage", tok.line, tok.col)
        if tok.kind in ("IDENTIFIER", "("):
            self.pos -= 1
            return ast.LabelFilterStage(self.label_filter_or())
        raise self.unexpected(tok, ("IDENTIFIER", "json", "logfmt", "regexp", "pattern", "line_format"))

    def extraction_params(self) -> list[tuple[str, Token]]:
        """``a="path", b`` after json/logfmt (``b`` alone means ``b="b"``); empty when none."""
        params: list[tuple[str, Token]] = []
        while self.peek().kind == "IDENTIFIER":
            name = value = self.take()
            if self.peek().kind == "=":
                self.take()
                value = self.expect("STRING")
            params.append((name.text, value))
            if self.peek().kind != ",":
                break
            self.take()
        return params

    def label_format(self) -> ast.LabelFormat:
        ops: list[tuple[str, str | None, tuple[tuple[Literal["text", "label", "line"], str], ...]]] = []
        while True:
            dst = self.expect_name()
            self.expect("=")
            src = self.expect("IDENTIFIER", "STRING")
            if any(op[0] == dst.text for op in ops):
                raise ParseError(
                    f"multiple label name '{dst.text}' not allowed in a single format operation",
                    dst.line,
                    dst.col,
                )
            if src.kind == "IDENTIFIER":
                ops.append((dst.text, src.text, ()))
            else:
                ops.append((dst.text, None, parse_line_format(src.text, src.line, src.col)))
            if self.peek().kind != ",":
                return ast.LabelFormat(tuple(ops))
            self.take()

    def drop_or_keep(self, tok: Token) -> ast.DropLabels | ast.KeepLabels:
        names = [self.expect_name().text]
        while self.peek().kind == ",":
            self.take()
            names.append(self.expect_name().text)
        if self.peek().kind in MATCH_OPS:
            raise unsupported(f"{tok.kind} with label matchers", tok.line, tok.col)
        return ast.DropLabels(tuple(names)) if tok.kind == "drop" else ast.KeepLabels(tuple(names))

    def unwrap(self) -> ast.Unwrap | None:
        """``| unwrap [duration|duration_seconds|bytes](label)`` and the label filters after it."""
        if not (self.peek().kind == "|" and self.peek(1).kind == "unwrap"):
            return None
        self.take()
        self.take()
        name = self.expect_name()
        conversion = ""
        if self.peek().kind == "(":
            if name.text not in _UNWRAP_CONVERSIONS:
                raise self.unexpected(self.peek())
            conversion = _UNWRAP_CONVERSIONS[name.text]
            self.take()
            name = self.expect_name()
            self.expect(")")
        filters: list[ast.LabelFilterStage] = []
        while self.peek().kind == "|" and self.peek(1).kind in ("IDENTIFIER", "("):
            self.take()
            filters.append(ast.LabelFilterStage(self.label_filter_or()))
        return ast.Unwrap(name.text, cast(Literal["", "duration", "bytes"], conversion), tuple(filters))

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
        if self.peek().kind == "(":
            self.take()
            inner = self.label_filter_or()
            self.expect(")")
            return inner
        name = self.expect("IDENTIFIER")
        op = self.expect(*MATCH_OPS, *COMPARE_OPS)
        if self.peek().kind == "ip":
            raise unsupported("the ip() label filter", self.peek().line, self.peek().col)
        if op.kind in MATCH_OPS and self.peek().kind == "STRING":
            return ast.StringLabelFilter(label_matcher(name.text, op, self.take()))
        return self.numeric_filter(name, op)

    def numeric_filter(self, name: Token, op: Token) -> ast.NumericLabelFilter:
        sign = 1.0
        if self.peek().kind == "-":
            self.take()
            sign = -1.0
        value = self.expect("NUMBER", "DURATION", "BYTES")
        if value.kind == "NUMBER":
            amount, kind = number(value), "number"
        elif value.kind == "DURATION":
            amount, kind = duration(value) / 1e9, "duration"
        else:
            amount, kind = float(parse_bytes(value.text)), "bytes"
        cmp = "==" if op.kind == "=" else op.kind
        if cmp not in COMPARE_OPS:
            raise self.unexpected(op, COMPARE_OPS)
        return ast.NumericLabelFilter(
            name.text, cast(ast.CompareOp, cmp), sign * amount, cast(ast.ValueKind, kind)
        )


def _json_path(tok: Token) -> tuple[str | int, ...]:
    """``response.headers["User-Agent"]``, ``servers[0]`` → path parts."""
    parts: list[str | int] = []
    pos = 0
    text = tok.text
    while pos < len(text):
        m = _JSON_PATH_PART.match(text, pos)
        if m is None or (pos == 0 and text.startswith(".")):
            raise ParseError(f"invalid json expression {text!r}", tok.line, tok.col)
        key, index, quoted = m.groups()
        parts.append(int(index) if index is not None else key if key is not None else quoted)
        pos = m.end()
    if not parts:
        raise ParseError("invalid json expression: empty", tok.line, tok.col)
    return tuple(parts)


def _pattern_parts(tok: Token) -> tuple[tuple[Literal["literal", "capture"], str], ...]:
    parts: list[tuple[Literal["literal", "capture"], str]] = []
    pos = 0
    for m in _PATTERN_CAPTURE.finditer(tok.text):
        if m.start() > pos:
            parts.append(("literal", tok.text[pos : m.start()]))
        elif parts and parts[-1][0] == "capture":
            raise ParseError(f"invalid pattern {tok.text!r}: consecutive captures", tok.line, tok.col)
        parts.append(("capture", m.group(1)))
        pos = m.end()
    if pos < len(tok.text):
        parts.append(("literal", tok.text[pos:]))
    names = [name for kind, name in parts if kind == "capture" and name != "_"]
    if not names:
        raise ParseError(f"invalid pattern {tok.text!r}: at least one capture is required", tok.line, tok.col)
    if len(set(names)) != len(names):
        raise ParseError(f"invalid pattern {tok.text!r}: duplicate capture name", tok.line, tok.col)
    return tuple(parts)
