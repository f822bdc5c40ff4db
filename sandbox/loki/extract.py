"""Label extractors behind LogQL's parser stages: ``json``, ``logfmt``, ``regexp``, ``pattern``.

Each turns a line into ``(pairs, error)``: the ``(name, value)`` pairs found, and an error text
when the line could not be parsed (the stage then sets ``__error__``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any, Literal

Pairs = list[tuple[str, str]]
Extractor = Callable[[str], tuple[Pairs, str | None]]
_INVALID_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_]")
# Numbers stay as written (Loki keeps the raw bytes); one decoder, built once.
_JSON = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str)


@functools.lru_cache(maxsize=4096)
def sanitize_label_name(key: str) -> str:
    """A valid Prometheus label name: invalid characters become ``_``, a leading digit gets ``_``."""
    name = _INVALID_LABEL_CHARS.sub("_", key)
    if not name or name[0].isdigit():
        name = "_" + name
    return name


# ---------------------------------------------------------------- json
def json_extractor(params: tuple[tuple[str, tuple[str | int, ...]], ...]) -> Extractor:
    """Every field flattened with ``_`` (arrays skipped), or only the ``params`` paths."""

    def extract(line: str) -> tuple[Pairs, str | None]:
        try:
            obj = _JSON.decode(line)
        except ValueError as exc:
            return [], f"{exc.__class__.__name__}: {exc}"
        if not isinstance(obj, dict):
            return [], "Value looks like a JSON value, but not an object"
        pairs: Pairs = []
        if not params:
            _flatten(obj, "", pairs)
            return pairs, None
        for name, path in params:
            found = _lookup(obj, path)
            if found is not _MISSING:
                pairs.append((name, _json_text(found)))
        return pairs, None

    return extract


_MISSING = object()


def _lookup(obj: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        in_list = isinstance(part, int) and isinstance(obj, list) and part < len(obj)
        in_dict = isinstance(part, str) and isinstance(obj, dict) and part in obj
        if not (in_list or in_dict):
            return _MISSING
        obj = obj[part]
    return obj


def _json_text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _flatten(obj: dict[str, Any], prefix: str, out: Pairs) -> None:
    for key, value in obj.items():
        name = f"{prefix}_{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(value, name, out)
        elif not isinstance(value, list):  # Loki's json parser skips arrays
            out.append((name, _json_text(value)))


# ---------------------------------------------------------------- logfmt
def logfmt_extractor(params: tuple[tuple[str, str], ...]) -> Extractor:
    """Lenient logfmt (Loki's default); with ``params`` only those keys, renamed."""
    wanted = {key: name for name, key in params}

    def extract(line: str) -> tuple[Pairs, str | None]:
        pairs = _parse_logfmt(line)
        if wanted:
            pairs = [(wanted[k], v) for k, v in pairs if k in wanted]
        return pairs, None

    return extract


def _parse_logfmt(line: str) -> Pairs:
    """``k=v``, ``k="quoted \\" value"``, bare ``k``; stray characters are skipped."""
    pairs: Pairs = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] <= " ":
            i += 1
        start = i
        while i < n and line[i] > " " and line[i] not in '="':
            i += 1
        key = line[start:i]
        if i < n and line[i] == "=":
            value, i = _logfmt_value(line, i + 1)
            if key:
                pairs.append((key, value))
        elif key:
            pairs.append((key, ""))
        elif i < n:
            i += 1  # stray quote or '=': skip it
    return pairs


def _logfmt_value(line: str, i: int) -> tuple[str, int]:
    n = len(line)
    if i < n and line[i] == '"':
        out: list[str] = []
        i += 1
        while i < n and line[i] != '"':
            if line[i] == "\\" and i + 1 < n:
                i += 1
                out.append({"n": "\n", "t": "\t", "r": "\r"}.get(line[i], line[i]))
            else:
                out.append(line[i])
            i += 1
        return "".join(out), i + 1
    start = i
    while i < n and line[i] > " ":
        i += 1
    return line[start:i], i


# ---------------------------------------------------------------- regexp and pattern
def regexp_extractor(regex: re.Pattern[str]) -> Extractor:
    """Named groups of the first match anywhere in the line."""

    def extract(line: str) -> tuple[Pairs, str | None]:
        m = regex.search(line)
        if m is None:
            return [], None
        return [(k, v) for k, v in m.groupdict().items() if v is not None], None

    return extract


def pattern_extractor(parts: tuple[tuple[Literal["literal", "capture"], str], ...]) -> Extractor:
    """Loki's pattern parser: literals matched in order from the line's start; each capture takes
    the text up to the next literal's first occurrence (the last one takes the rest)."""
    pieces: list[str] = ["^"]
    for i, (kind, value) in enumerate(parts):
        if kind == "literal":
            pieces.append(re.escape(value))
            continue
        last = i == len(parts) - 1
        body = ".*" if last else ".*?"
        pieces.append(f"(?:{body})" if value == "_" else f"(?P<{value}>{body})")
    return regexp_extractor(re.compile("".join(pieces), re.DOTALL))
