"""Query-string parameters of Loki's HTTP API, parsed with Loki's rules and error messages."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import cast

from sandbox.loki.engine import Direction
from sandbox.loki.errors import LokiError
from sandbox.loki.units import try_parse_duration_ns

Params = dict[str, list[str]]
HOUR_NS = 3600 * 1_000_000_000
MAX_ENTRIES_LIMIT = 5000


def first(params: Params, name: str) -> str | None:
    """The first value of parameter ``name``, or ``None`` when absent or empty."""
    values = params.get(name)
    return values[0] if values and values[0] != "" else None


def timestamp_ns(params: Params, name: str, default: int) -> int:
    """A time given as Unix nanoseconds, Unix seconds (≤ 10 digits or with a dot), or RFC3339."""
    raw = first(params, name)
    if raw is None:
        return default
    parsed = parse_timestamp(raw)
    if parsed is None:
        raise LokiError(f"could not parse '{name}' parameter: invalid timestamp {raw!r}")
    return parsed


def parse_timestamp(raw: str) -> int | None:
    """Loki's ``parseTimestamp``: ``None`` when ``raw`` is not a time."""
    if "." in raw:
        try:
            seconds = float(raw)
        except ValueError:
            pass
        else:
            whole = math.floor(seconds)
            return whole * 1_000_000_000 + round((seconds - whole) * 1000) * 1_000_000
    try:
        number = int(raw)
    except ValueError:
        return _rfc3339_ns(raw)
    return number * 1_000_000_000 if len(raw) <= 10 else number


def _rfc3339_ns(raw: str) -> int | None:
    text = raw.strip().replace("z", "Z")
    if "T" not in text:
        return None
    head, frac = text, ""
    if "." in text:
        head, rest = text.split(".", 1)
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, zone = rest[:digits], rest[digits:]
        head += zone
    try:
        parsed = datetime.fromisoformat(head.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9] or 0)


def time_range(params: Params) -> tuple[int, int]:
    """``start`` and ``end`` (defaults: ``since`` or one hour before now, and now)."""
    now = time.time_ns()
    end = timestamp_ns(params, "end", now)
    since = duration_ns(params, "since", HOUR_NS)
    start = timestamp_ns(params, "start", end - since)
    if end < start:
        raise LokiError("end timestamp must not be before or equal to start time")
    return start, end


def duration_ns(params: Params, name: str, default: int) -> int:
    """A duration given as ``5m``-style text or as (float) seconds."""
    raw = first(params, name)
    if raw is None:
        return default
    try:
        return round(float(raw) * 1e9)
    except ValueError:
        pass
    parsed = try_parse_duration_ns(raw)
    if parsed is None:
        raise LokiError(f"could not parse '{name}' parameter: invalid duration {raw!r}")
    return parsed


def step_ns(params: Params, start: int, end: int) -> int:
    """``step``, defaulting like Loki to a 250th of the range (at least one second)."""
    default = max(math.floor((end - start) / 1e9 / 250), 1) * 1_000_000_000
    step = duration_ns(params, "step", default)
    if step <= 0:
        raise LokiError(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    return step


def limit(params: Params) -> int:
    """``limit`` (default 100, at most 5000 as Loki's default ``max_entries_limit_per_query``)."""
    raw = first(params, "limit")
    if raw is None:
        return 100
    try:
        value = int(raw)
    except ValueError:
        raise LokiError(f"could not parse 'limit' parameter: invalid integer {raw!r}") from None
    if value <= 0:
        raise LokiError("limit must be a positive value")
    if value > MAX_ENTRIES_LIMIT:
        raise LokiError(
            "max entries limit per query exceeded, limit > max_entries_limit_per_query "
            f"({value} > {MAX_ENTRIES_LIMIT})"
        )
    return value


def direction(params: Params) -> Direction:
    """``direction``: ``backward`` (default, newest first) or ``forward``."""
    raw = (first(params, "direction") or "backward").lower()
    if raw not in ("forward", "backward"):
        raise LokiError(f"invalid direction {raw!r}: use forward or backward")
    return cast(Direction, raw)
