"""Compact, readable forms of journal changes for the model and for people."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tools.journal.model import Change, FieldChange

MAX_VALUE_CHARS = 80
MARK = {"add": "+", "remove": "-", "replace": "~"}


def show_value(value: Any) -> str:
    """A value as compact JSON, cut to :data:`MAX_VALUE_CHARS`."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def field_line(f: FieldChange) -> str:
    """``~ /spec/ports/0/targetPort: 8080 -> 9090``; ``+ path: new``; ``- path (was old)``."""
    if f.op == "replace":
        return f"~ {f.path}: {show_value(f.old)} -> {show_value(f.new)}"
    if f.op == "add":
        return f"+ {f.path}: {show_value(f.new)}"
    return f"- {f.path} (was {show_value(f.old)})"


def ago(when: datetime, now: datetime | None = None) -> str:
    seconds = max(int(((now or datetime.now(UTC)) - when).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def headline(c: Change, now: datetime | None = None) -> str:
    """One line: when, what object, who, where the record comes from."""
    where = f"{c.kind} {c.namespace + '/' if c.namespace else ''}{c.name}"
    who = f" by {c.actor}" + (f" ({c.operation})" if c.operation else "") if c.actor else " by (unknown)"
    stamp = c.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    what = {"added": " created", "deleted": " deleted"}.get(c.event, "")
    return f"{stamp} ({ago(c.time, now)} ago) {where}{what}{who} [{c.source}]"


def body_lines(c: Change, max_fields: int = 8) -> list[str]:
    """The field lines of one change (a creation or deletion is one line; no diff known says so)."""
    if c.event in ("added", "deleted"):
        return []
    if not c.diff:
        return ["  (what changed is not known: only the time of the write is)"]
    lines = [f"  {field_line(f)}" for f in c.diff[:max_fields]]
    if len(c.diff) > max_fields:
        lines.append(f"  ... {len(c.diff) - max_fields} more field(s)")
    return lines


def render(changes: list[Change], budget_chars: int, now: datetime | None = None) -> tuple[str, int]:
    """Newest first, as many whole changes as fit ``budget_chars``; returns (text, shown)."""
    blocks: list[str] = []
    used = 0
    for c in sorted(changes, key=lambda c: (c.time, c.id or 0), reverse=True):
        block = "\n".join([headline(c, now), *body_lines(c)])
        if blocks and used + len(block) + 1 > budget_chars:
            break
        blocks.append(block)
        used += len(block) + 1
    return "\n".join(blocks), len(blocks)
