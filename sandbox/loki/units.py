"""Durations and byte sizes as LogQL writes them (``1h30m``, ``250ms``, ``5d``; ``10KB``, ``2MiB``)."""

from __future__ import annotations

import re

from sandbox.loki.errors import ParseError

_DURATION_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
    "w": 7 * 86400 * 1_000_000_000,
    "y": 365 * 86400 * 1_000_000_000,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_BYTES = re.compile(r"(\d+(?:\.\d+)?)\s*([kKMGTPE]?)(i?)[bB]")
_BYTES_POWER = {"": 0, "k": 1, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


def parse_duration_ns(text: str) -> int:
    """``"1h30m"`` → nanoseconds. Raises :class:`ParseError` for anything else."""
    ns = try_parse_duration_ns(text)
    if ns is None:
        raise ParseError(f'not a valid duration string: "{text}"')
    return ns


def try_parse_duration_ns(text: str) -> int | None:
    """Like :func:`parse_duration_ns` (also accepting a sign), but ``None`` when invalid."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(body):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _DURATION_UNITS_NS[m.group(2)]
        pos = m.end()
    if pos != len(body) or not body:
        return None
    return sign * round(total)


def parse_bytes(text: str) -> int:
    """``"10KB"`` → 10000, ``"2MiB"`` → 2097152 (humanize's rules). Raises :class:`ParseError`."""
    value = try_parse_bytes(text)
    if value is None:
        raise ParseError(f'not a valid byte size: "{text}"')
    return value


def try_parse_bytes(text: str) -> int | None:
    """Like :func:`parse_bytes`, but ``None`` when invalid; a bare number counts as bytes."""
    m = _BYTES.fullmatch(text.strip())
    if m is None:
        try:
            return int(float(text))
        except ValueError:
            return None
    base = 1024 if m.group(3) else 1000
    return int(float(m.group(1)) * base ** _BYTES_POWER[m.group(2)])
