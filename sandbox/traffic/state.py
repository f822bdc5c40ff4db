"""Accumulated metric state the traffic engine writes and the metrics collectors read on scrape.

Counters are kept as float accumulators of expected counts and exposed floored, so they are whole
numbers that only ever grow. Gauges hold the last tick's value. One lock guards everything;
readers get copies.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

from sandbox.traffic import model

BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HttpKey = tuple[str, str, str, str]  # namespace, service, route, code
RouteKey = tuple[str, str, str]  # namespace, service, route
UpstreamKey = tuple[str, str, str, str]  # namespace, service, upstream, result
CacheKey = tuple[str, str, str]  # namespace, service, result
PodKey = tuple[str, str, str]  # namespace, pod, container


@dataclass
class Histogram:
    """Cumulative bucket counts (one per ``BUCKETS`` bound, then +Inf) and the sum of seconds."""

    buckets: list[float] = field(default_factory=lambda: [0.0] * (len(BUCKETS) + 1))
    total_s: float = 0.0

    def observe_spread(self, count: float, mean_s: float) -> None:
        """Add ``count`` requests whose latency is spread (lognormal) around ``mean_s``."""
        if count <= 0:
            return
        for i, share in enumerate(model.bucket_shares(mean_s, BUCKETS)):
            self.buckets[i] += count * share
        self.buckets[-1] += count
        self.total_s += count * mean_s

    def observe_at(self, count: float, seconds: float) -> None:
        """Add ``count`` requests that all took ``seconds`` (timeouts)."""
        if count <= 0:
            return
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[i] += count
        self.buckets[-1] += count
        self.total_s += count * seconds


@dataclass
class ContainerUsage:
    """cAdvisor-style counters and gauges of one running container."""

    cpu_seconds: float = 0.0
    cfs_periods: float = 0.0
    cfs_throttled: float = 0.0
    memory_bytes: float = 0.0
    memory_limit_bytes: float | None = None
    cpu_limit_cores: float | None = None


@dataclass
class QueueState:
    name: str
    depth: float = 0.0
    lag_s: float = 0.0
    consumed: float = 0.0
    published_rate: float = 0.0


@dataclass
class DbState:
    in_use: float = 0.0
    max: float = 0.0


class MetricState:
    """Everything the app and cAdvisor targets expose; written by the engine once per tick."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.http: dict[HttpKey, float] = defaultdict(float)
        self.latency: dict[RouteKey, Histogram] = defaultdict(Histogram)
        self.upstream: dict[UpstreamKey, float] = defaultdict(float)
        self.cache: dict[CacheKey, float] = defaultdict(float)
        self.queues: dict[tuple[str, str], QueueState] = {}  # (namespace, queue app) -> state
        self.db: dict[tuple[str, str], DbState] = {}  # (namespace, db app) -> state
        self.containers: dict[PodKey, ContainerUsage] = {}
