"""A fixed set of log lines with known answers, shared by the LogQL unit and Loki API tests.

Four streams in ``market-predictor`` / ``market-predictor-staging`` (JSON, logfmt and plain
lines, one non-JSON stack-trace line in a JSON stream). Times are ``T0`` plus a few seconds;
queries are evaluated at ``END`` = ``T0 + 10s``.
"""

from __future__ import annotations

import json

from sandbox.logs import LogStore

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND
END = T0 + 10 * SECOND

GATEWAY = {"namespace": "market-predictor", "app": "api-gateway", "pod": "api-gateway-1", "container": "api"}
PREDICTOR = {"namespace": "market-predictor", "app": "predictor", "pod": "predictor-1", "container": "model"}
STAGING = {
    "namespace": "market-predictor-staging",
    "app": "api-gateway",
    "pod": "api-gateway-s1",
    "container": "api",
}
CACHE = {"namespace": "market-predictor", "app": "cache", "pod": "cache-0", "container": "redis"}


def _json(**fields: object) -> str:
    return json.dumps(fields, separators=(",", ":"))


# (labels, seconds after T0, line)
LINES: list[tuple[dict[str, str], float, str]] = [
    (CACHE, 0.5, "Ready to accept connections"),
    (
        GATEWAY,
        1,
        _json(level="info", msg="GET /predict", status=200, duration="12ms", http={"method": "GET"}),
    ),
    (PREDICTOR, 1.5, 'level=info msg="model loaded" latency=20ms size=10KB'),
    (
        GATEWAY,
        2,
        _json(
            level="error",
            msg="upstream connection refused",
            status=502,
            duration="1.5s",
            http={"method": "POST"},
        ),
    ),
    (STAGING, 2, _json(level="info", msg="GET /predict", status=200)),
    (PREDICTOR, 2.5, 'level=warn msg="slow feature fetch" latency=800ms size=2MB'),
    (GATEWAY, 3, _json(level="info", msg="GET /health", status=200, duration="1ms", http={"method": "GET"})),
    (PREDICTOR, 3.5, 'level=error msg="too many connections" latency=2s size=512B'),
    (
        GATEWAY,
        4,
        _json(
            level="error", msg="timeout calling predictor", status=504, duration="30s", http={"method": "GET"}
        ),
    ),
    (GATEWAY, 5, "Traceback (most recent call last):"),
    (CACHE, 6, "OOM command not allowed when used memory > 'maxmemory'"),
]


def at(seconds: float) -> int:
    """``T0`` plus ``seconds``, in nanoseconds."""
    return T0 + int(seconds * SECOND)


def line_at(seconds: float, labels: dict[str, str] | None = None) -> str:
    """The fixture line written at ``T0 + seconds`` (by ``labels``' stream when two share a time)."""
    for stream, offset, line in LINES:
        if offset == seconds and (labels is None or stream == labels):
            return line
    raise KeyError(seconds)


def make_store() -> LogStore:
    """A store holding exactly :data:`LINES`."""
    store = LogStore(clock=lambda: END)
    for labels, offset, line in LINES:
        store.append(labels, line, at(offset))
    return store
