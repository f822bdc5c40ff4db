"""Expected failures of a tool, and the decorator that turns them into error results.

A tool raises :class:`ToolError` (or a subclass) with a message that says what happened, why, and
what to do next; :func:`expected_errors` turns it into ``ToolResult.error``. Anything else is a bug,
and ``Tool.invoke`` reports it as one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from tools.base import ToolResult


class ToolError(Exception):
    """An expected failure (bad query, missing object, unreachable backend) with a clear message."""


class BackendNotConfigured(ToolError):
    """The tool needs a backend (Prometheus, Loki, Kubernetes) that has no URL or config."""


class BackendUnavailable(ToolError):
    """The backend did not answer: connection refused, DNS failure, or timeout."""


class NotFound(ToolError):
    """The object or series the tool was asked about does not exist."""


def expected_errors(func: Callable[..., ToolResult]) -> Callable[..., ToolResult]:
    """Turn a :class:`ToolError` raised by ``func`` into an error result carrying its message."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> ToolResult:
        try:
            return func(*args, **kwargs)
        except ToolError as exc:
            return ToolResult.error(str(exc), data={"error": type(exc).__name__})

    return wrapper
