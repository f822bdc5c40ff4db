"""Tokenizer for LogQL.

Token kinds follow Loki's own names so syntax errors read like Loki's: fixed symbols and keywords
are shown as themselves (``{``, ``|=``, ``sum``), the rest as ``IDENTIFIER``, ``STRING``,
``NUMBER``, ``DURATION``, ``BYTES`` and ``RANGE`` (a ``[5m]`` range), and ``$end``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.loki.errors import ParseError

# Longest first, so "|=" wins over "|" and "!~" over "!".
SYMBOLS = (
    "|=", "|~", "!=", "!~", "=~", "==", ">=", "<=",
    "{", "}", "(", ")", ",", "=", "|", ">", "<", "+", "-", "*", "/", "%", "^",
)  # fmt: skip

KEYWORDS = frozenset(
    {
        # vector aggregations
        "sum", "avg", "max", "min", "count", "stddev", "stdvar", "topk", "bottomk",
        "sort", "sort_desc", "by", "without",
        # range aggregations
        "count_over_time", "rate", "bytes_over_time", "bytes_rate", "absent_over_time",
        "sum_over_time", "avg_over_time", "max_over_time", "min_over_time", "first_over_time",
        "last_over_time", "stddev_over_time", "stdvar_over_time", "quantile_over_time", "rate_counter",
        # pipeline
        "json", "logfmt", "regexp", "pattern", "unpack", "line_format", "label_format", "drop",
        "keep", "unwrap", "decolorize", "distinct", "ip",
        # binary operators and modifiers
        "and", "or", "unless", "bool", "on", "ignoring", "group_left", "group_right", "offset",
        "label_replace", "vector",
    }
)  # fmt: skip

_DURATION_UNIT = r"(?:ns|us|µs|ms|s|m|h|d|w|y)"
_DURATION_RE = re.compile(rf"(?:\d+(?:\.\d+)?{_DURATION_UNIT})+")
_BYTES_RE = re.compile(r"\d+(?:\.\d+)?(?:[kKMGTPE]i?[bB]|[bB])")
_NUMBER_RE = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|0[xX][0-9a-fA-F]+")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RANGE_RE = re.compile(r"\[\s*([^\]\s]*)\s*\]")


@dataclass(frozen=True)
class Token:
    """One lexical token: ``kind`` (for symbols and keywords, the text itself), ``text``, position."""

    kind: str
    text: str
    line: int
    col: int

    def describe(self) -> str:
        """How the token is named in a syntax error (Loki's wording)."""
        return self.kind


def tokenize(src: str) -> list[Token]:
    """Split a LogQL query into tokens, ending with a ``$end`` token."""
    tokens: list[Token] = []
    i, line, line_start = 0, 1, 0
    n = len(src)
    while i < n:
        ch = src[i]
        if ch == "\n":
            i, line, line_start = i + 1, line + 1, i + 1
            continue
        if ch.isspace():
            i += 1
            continue
        if ch == "#":  # comment to end of line
            while i < n and src[i] != "\n":
                i += 1
            continue
        col = i - line_start + 1
        tok, i = _next_token(src, i, line, col)
        tokens.append(tok)
    tokens.append(Token("$end", "", line, n - line_start + 1))
    return tokens


def _next_token(src: str, i: int, line: int, col: int) -> tuple[Token, int]:
    ch = src[i]
    if ch in ('"', "`"):
        text, end = _read_string(src, i, line, col)
        return Token("STRING", text, line, col), end
    if ch == "[":
        m = _RANGE_RE.match(src, i)
        if not m:
            raise ParseError("syntax error: unexpected [, expecting a range like [5m]", line, col)
        return Token("RANGE", m.group(1), line, col), m.end()
    if ch.isdigit() or (ch == "." and i + 1 < len(src) and src[i + 1].isdigit()):
        return _read_number(src, i, line, col)
    m = _IDENT_RE.match(src, i)
    if m:
        word = m.group(0)
        return Token(word if word in KEYWORDS else "IDENTIFIER", word, line, col), m.end()
    for sym in SYMBOLS:
        if src.startswith(sym, i):
            return Token(sym, sym, line, col), i + len(sym)
    raise ParseError(f"syntax error: unexpected character {ch!r}", line, col)


def _read_number(src: str, i: int, line: int, col: int) -> tuple[Token, int]:
    for kind, regex in (("DURATION", _DURATION_RE), ("BYTES", _BYTES_RE)):
        m = regex.match(src, i)
        if m and not _ident_continues(src, m.end()):
            return Token(kind, m.group(0), line, col), m.end()
    m = _NUMBER_RE.match(src, i)
    assert m is not None  # caller saw a digit
    if _ident_continues(src, m.end()):
        raise ParseError(f"syntax error: invalid number or duration {src[i : m.end() + 1]!r}", line, col)
    return Token("NUMBER", m.group(0), line, col), m.end()


def _ident_continues(src: str, pos: int) -> bool:
    return pos < len(src) and (src[pos].isalnum() or src[pos] == "_")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v"}  # fmt: skip


def _read_string(src: str, i: int, line: int, col: int) -> tuple[str, int]:
    """Read a Go string literal: ``"..."`` with escapes, or a raw `` `...` `` string."""
    quote = src[i]
    if quote == "`":
        end = src.find("`", i + 1)
        if end < 0:
            raise ParseError("literal not terminated", line, col)
        return src[i + 1 : end], end + 1
    out: list[str] = []
    j = i + 1
    while j < len(src):
        ch = src[j]
        if ch == '"':
            return "".join(out), j + 1
        if ch == "\n":
            break
        if ch == "\\":
            j = _read_escape(src, j, out, line, col)
            continue
        out.append(ch)
        j += 1
    raise ParseError("literal not terminated", line, col)


def _read_escape(src: str, j: int, out: list[str], line: int, col: int) -> int:
    if j + 1 >= len(src):
        raise ParseError("literal not terminated", line, col)
    esc = src[j + 1]
    if esc in _ESCAPES:
        out.append(_ESCAPES[esc])
        return j + 2
    widths = {"x": 2, "u": 4, "U": 8}
    if esc in widths:
        digits = src[j + 2 : j + 2 + widths[esc]]
        if len(digits) == widths[esc] and all(c in "0123456789abcdefABCDEF" for c in digits):
            out.append(chr(int(digits, 16)))
            return j + 2 + widths[esc]
    if esc in "01234567":
        digits = src[j + 1 : j + 4]
        if len(digits) == 3 and all(c in "01234567" for c in digits):
            out.append(chr(int(digits, 8)))
            return j + 4
    raise ParseError(f"invalid syntax: unknown escape sequence \\{esc} in string literal", line, col)
