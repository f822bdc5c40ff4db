"""Errors of the Loki stand-in. Each becomes an HTTP 400 with a plain-text body, as Loki answers.

Messages keep Loki's wording where Loki has one (``parse error at line 1, col 5: syntax error:
unexpected IDENTIFIER``), so a client that handles real Loki's errors handles these.
"""

from __future__ import annotations


class LokiError(Exception):
    """A request Loki would refuse with 400 Bad Request; ``str(err)`` is the response body."""


class ParseError(LokiError):
    """The query is not valid LogQL (or uses LogQL the stand-in does not support)."""

    def __init__(self, msg: str, line: int = 0, col: int = 0) -> None:
        self.msg, self.line, self.col = msg, line, col
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.line == 0 and self.col == 0:
            return f"parse error : {self.msg}"
        return f"parse error at line {self.line}, col {self.col}: {self.msg}"


def unsupported(feature: str, line: int = 0, col: int = 0) -> ParseError:
    """The query is valid LogQL, but the sandbox's Loki stand-in does not implement ``feature``."""
    return ParseError(
        f"{feature} is not supported by the sandbox Loki stand-in; it supports stream selectors, "
        "line filters, the json/logfmt/regexp/pattern parsers, label filters, line_format, "
        "label_format, drop, keep, decolorize, unwrap, the *_over_time and rate functions, "
        "vector aggregations with by/without, and arithmetic, comparison and set operators "
        "with on/ignoring",
        line,
        col,
    )


class PipelineError(LokiError):
    """A metric query met a line its pipeline could not process (Loki's ``pipeline error``)."""

    def __init__(self, error: str, series: str) -> None:
        super().__init__(
            f"pipeline error: '{error}' for series: '{series}'.\n"
            f'Use a label filter to intentionally skip this error. (e.g | __error__!="{error}").\n'
            'To skip all potential errors you can match empty errors.(e.g __error__="")\n'
            'The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__="" )\n'
        )


class LimitError(LokiError):
    """The query asks for more than the stand-in's limits allow."""
