"""The token cursor the LogQL parsers share, and small literal helpers."""

from __future__ import annotations

import re
from typing import cast

from sandbox.logs import LabelMatcher, MatchOp, compile_go_regex
from sandbox.loki.errors import ParseError
from sandbox.loki.lexer import Token, tokenize
from sandbox.loki.units import parse_duration_ns


class TokenStream:
    """A cursor over a query's tokens with Loki-worded syntax errors."""

    def __init__(self, query: str) -> None:
        if not query.strip():
            raise ParseError("syntax error: unexpected $end")
        self.tokens = tokenize(query)
        self.pos = 0

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

    def expect_name(self) -> Token:
        """A label name: an identifier, or a keyword used as one (``{json="x"}``)."""
        tok = self.take()
        if tok.kind != "IDENTIFIER" and not tok.kind.isidentifier():
            raise self.unexpected(tok, ("IDENTIFIER",))
        return tok

    @staticmethod
    def unexpected(tok: Token, expecting: tuple[str, ...] = ()) -> ParseError:
        msg = f"syntax error: unexpected {tok.describe()}"
        if expecting:
            msg += ", expecting " + " or ".join(dict.fromkeys(expecting))
        return ParseError(msg, tok.line, tok.col)


def label_matcher(name: str, op: Token, value: Token) -> LabelMatcher:
    """A matcher, with a bad regex reported at the value's position."""
    try:
        return LabelMatcher(name, cast(MatchOp, op.kind), value.text)
    except ValueError as exc:
        raise ParseError(f"error parsing regexp: {exc}", value.line, value.col) from exc


def compile_regex(pattern: str, at: Token) -> re.Pattern[str]:
    try:
        return compile_go_regex(pattern)
    except re.error as exc:
        raise ParseError(f"error parsing regexp: {exc} in {pattern!r}", at.line, at.col) from exc


def duration(tok: Token) -> int:
    """A duration token in nanoseconds, with a bad one reported at its position."""
    try:
        return parse_duration_ns(tok.text)
    except ParseError as exc:
        raise ParseError(exc.msg, tok.line, tok.col) from None


def number(tok: Token) -> float:
    text = tok.text
    return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
