"""Request-path log lines: what callers and servers print while traffic flows through them.

The traffic engine reports *events* with expected counts per tick ("30 requests to feature-store
were refused on this pod"); :class:`RequestLog` turns them into a few realistic lines per pod and
tick (errors first, info lines sampled), using the image's own log templates where it has them
(``sandbox.images.LogTemplates``) so a database logs like a database. JSON lines carry ``ts``,
``level``, ``msg``, ``service``, ``route``, ``trace_id`` and, for upstream failures, ``upstream``;
500s carry the stack trace in a ``stack`` field (one log line, newlines inside the JSON string).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sandbox.images import ImageProfile, render

ERROR_LINES_PER_POD_TICK = 3
INFO_LINES_PER_POD_S = 0.3

# Event kinds → (level, fallback message). ``{upstream}``/``{detail}`` are filled in.
_FALLBACK: dict[str, tuple[str, str]] = {
    "access": ("info", "request completed"),
    "server_error": ("error", "unhandled exception while serving request"),
    "refused": ("error", "upstream connect error: dial tcp {upstream}: connect: connection refused"),
    "timeout": ("error", "upstream request timeout: context deadline exceeded calling {upstream}"),
    "error": ("error", "upstream {upstream} returned an error: {detail}"),
    "auth_failed": ("error", "upstream {upstream} rejected credentials: authentication failed"),
    "no_such_host": ("error", "upstream connect error: dial tcp: lookup {upstream}: no such host"),
    "too_many_connections": (
        "error",
        "could not acquire database connection from {upstream}: FATAL: sorry, too many clients already "
        "(too many connections)",
    ),
    "cache_fallback": ("warn", "cache {upstream} unavailable ({detail}); falling back to {fallback}"),
    "overloaded": ("warn", "request timed out in queue: worker busy, cpu throttled ({detail})"),
    "stalled": ("error", "consumer heartbeat missed: no message acknowledged for 30s"),
    "queue_unreachable": ("error", "cannot consume from {upstream}: {detail}"),
}
_SERVER_KEYWORDS = {"db_too_many": "too many", "db_auth": "password", "cache_auth": "WRONGPASS"}


class Sink(Protocol):
    def append(
        self, labels: Mapping[str, str], line: str, ts_ns: int | None = None, *, restart: int = 0
    ) -> None: ...


@dataclass
class PodRef:
    """Identity of the pod a line comes from (the log stream's labels)."""

    namespace: str
    pod: str
    container: str
    app: str
    node: str
    restart: int
    profile: ImageProfile | None

    def labels(self) -> dict[str, str]:
        return {
            "namespace": self.namespace,
            "pod": self.pod,
            "container": self.container,
            "app": self.app,
            "node": self.node,
            "job": f"{self.namespace}/{self.app}",
        }


@dataclass
class _Pending:
    pod: PodRef
    kind: str
    count: float = 0.0
    fields: dict[str, Any] = field(default_factory=dict)


class RequestLog:
    """Collects events during a tick and writes a bounded number of lines per pod on :meth:`flush`."""

    def __init__(self, sink: Sink | None, rng: random.Random) -> None:
        self._sink = sink
        self._rng = rng
        self._carry: dict[tuple[str, ...], float] = {}
        self._pending: dict[tuple[str, ...], _Pending] = {}

    def event(self, pod: PodRef, kind: str, count: float, **fields: Any) -> None:
        """Record ``count`` occurrences (expected, may be fractional) of ``kind`` on ``pod``."""
        if count <= 0:
            return
        key = (pod.namespace, pod.pod, kind, str(fields.get("route", "")), str(fields.get("upstream", "")))
        item = self._pending.setdefault(key, _Pending(pod, kind))
        item.count += count
        item.fields.update(fields)

    def flush(self, now: float, dt: float) -> int:
        """Write this tick's lines to the sink; returns how many were written."""
        by_pod: dict[tuple[str, str], list[tuple[tuple[str, ...], _Pending]]] = {}
        for key, item in self._pending.items():
            by_pod.setdefault((key[0], key[1]), []).append((key, item))
        self._pending = {}
        written = 0
        for items in by_pod.values():
            written += self._flush_pod(items, now, dt)
        return written

    def _flush_pod(self, items: list[tuple[tuple[str, ...], _Pending]], now: float, dt: float) -> int:
        errors = sorted(((k, i) for k, i in items if i.kind != "access"), key=lambda ki: -ki[1].count)
        infos = [(k, i) for k, i in items if i.kind == "access"]
        info_total = sum(i.count for _, i in infos)
        sample = min(1.0, INFO_LINES_PER_POD_S * dt / info_total) if info_total else 0.0
        lines = self._share([(k, i, i.count) for k, i in errors], ERROR_LINES_PER_POD_TICK)
        lines += self._share([(k, i, i.count * sample) for k, i in infos], 1)
        return sum(self._emit(item, n, now, dt) for item, n in lines)

    def _share(
        self, items: list[tuple[tuple[str, ...], _Pending, float]], budget: int
    ) -> list[tuple[_Pending, int]]:
        """Lines per event kind: each kind that is due gets one line in turn until the budget is
        spent, so a rare error is not drowned by a frequent one. Unwritten occurrences carry over
        (at most one line's worth, so a burst does not echo for minutes)."""
        wanted = []
        for key, _, count in items:
            acc = self._carry.get(key, 0.0) + count
            wanted.append(math.floor(acc))
            self._carry[key] = acc
        given = [0] * len(items)
        while budget > 0 and any(g < w for g, w in zip(given, wanted, strict=True)):
            for i, w in enumerate(wanted):
                if budget > 0 and given[i] < w:
                    given[i] += 1
                    budget -= 1
        for (key, _, _), n in zip(items, given, strict=True):
            self._carry[key] = min(self._carry[key] - n, 1.0)
        return [(item, n) for (_, item, _), n in zip(items, given, strict=True) if n]

    def _emit(self, item: _Pending, n: int, now: float, dt: float) -> int:
        if self._sink is None or n <= 0:
            return 0
        for _ in range(n):
            ts = now - self._rng.random() * dt
            line = self._line(item, ts)
            self._sink.append(item.pod.labels(), line, int(ts * 1e9), restart=item.pod.restart)
        return n

    def _line(self, item: _Pending, ts: float) -> str:
        trace_id = f"{self._rng.getrandbits(128):032x}"
        values = {**item.fields, "trace_id": trace_id, "pid": self._rng.randint(100, 9999)}
        if item.kind in _SERVER_KEYWORDS:
            return _server_line(item.pod.profile, _SERVER_KEYWORDS[item.kind], ts, values)
        return _json_line(item, ts, values)


def _json_line(item: _Pending, ts: float, values: dict[str, Any]) -> str:
    level, fallback = _FALLBACK.get(item.kind, ("error", item.kind))
    record: dict[str, Any] = {}
    stack: list[str] = []
    template = _image_template(item.pod.profile, item.kind)
    if template:
        first, *rest = template
        try:
            record = json.loads(render(first, **values, ts=_iso(ts)))
        except ValueError:
            record = {}
        stack = [render(line, **values) for line in rest]
    if not record:
        record = {
            "ts": _iso(ts),
            "level": level,
            "msg": render(fallback, **values),
            "trace_id": values["trace_id"],
        }
    record.setdefault("level", level)
    record["service"] = item.pod.app
    if "status" in record:
        values.pop("code", None)
    for key in ("route", "upstream", "code", "client", "latency_ms"):
        if values.get(key) not in (None, ""):
            record.setdefault(key, values[key])
    if stack:
        record["stack"] = "\n".join(stack)
    return json.dumps(record)


def _image_template(profile: ImageProfile | None, kind: str) -> tuple[str, ...]:
    if profile is None:
        return ()
    lines = profile.log_lines
    if kind == "access":
        return lines.info[:1]
    if kind == "server_error":
        return lines.error if lines.error and lines.error[0].startswith("{") else ()
    if kind in ("refused", "timeout", "error", "auth_failed") and kind in lines.upstream_error:
        return (lines.upstream_error[kind],)
    if kind == "stalled":
        return lines.error[:1] if lines.error and lines.error[0].startswith("{") else ()
    return ()


def _server_line(profile: ImageProfile | None, keyword: str, ts: float, values: dict[str, Any]) -> str:
    templates = profile.log_lines.error if profile else ()
    template = next((t for t in templates if keyword in t), None)
    if template is None:
        return json.dumps({"ts": _iso(ts), "level": "error", "msg": keyword, "trace_id": values["trace_id"]})
    stamp = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return render(template, **values, ts=stamp)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
