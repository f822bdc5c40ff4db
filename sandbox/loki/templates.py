"""The Go-template subset ``line_format`` supports: ``{{.label}}`` and ``{{__line__}}``.

Missing labels render as ``<no value>``, as Go's ``text/template`` does for a missing map key.
Functions, pipes and actions (``if``, ``range``) are refused with a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from sandbox.loki.errors import unsupported

Part = tuple[Literal["text", "label", "line"], str]
_ACTION = re.compile(r"\{\{(-\s)?\s*(.*?)\s*(\s-)?\}\}", re.DOTALL)
_FIELD = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)")


def parse_line_format(template: str, line: int = 0, col: int = 0) -> tuple[Part, ...]:
    """Split a template into literal text and references; refuse anything richer."""
    parts: list[Part] = []
    pos = 0
    trim_next = False
    for m in _ACTION.finditer(template):
        text = template[pos : m.start()]
        if trim_next:
            text = text.lstrip()
        if m.group(1):
            text = text.rstrip()
        if text:
            parts.append(("text", text))
        parts.append(_reference(m.group(2), line, col))
        trim_next = bool(m.group(3))
        pos = m.end()
    tail = template[pos:]
    if trim_next:
        tail = tail.lstrip()
    if "{{" in tail:
        raise unsupported("an unterminated or unrecognised line_format action", line, col)
    if tail:
        parts.append(("text", tail))
    return tuple(parts)


def _reference(action: str, line: int, col: int) -> Part:
    if action == "__line__":
        return ("line", "")
    m = _FIELD.fullmatch(action)
    if m is None:
        raise unsupported(
            f"the line_format action '{{{{{action}}}}}' (only {{{{.label}}}} and {{{{__line__}}}})", line, col
        )
    return ("label", m.group(1))


def render(parts: tuple[Part, ...], line: str, labels: Mapping[str, str]) -> str:
    """Render a parsed template for one log line and its labels."""
    out: list[str] = []
    for kind, value in parts:
        if kind == "text":
            out.append(value)
        elif kind == "line":
            out.append(line)
        else:
            out.append(labels.get(value, "<no value>"))
    return "".join(out)
