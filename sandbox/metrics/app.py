"""App metrics of one service in one namespace, read from the traffic engine's state on scrape."""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from sandbox.traffic.state import BUCKETS, MetricState


def _whole(value: float) -> float:
    """Counters accumulate expected (fractional) counts; expose whole, never-decreasing numbers."""
    return float(math.floor(value + 1e-9))


class AppCollector(Collector):
    """``http_requests_total``, ``http_request_duration_seconds``, ``upstream_requests_total``,
    ``cache_requests_total``, queue and database gauges for ``namespace``/``service``."""

    def __init__(self, state: MetricState, namespace: str, service: str) -> None:
        self.state = state
        self.namespace = namespace
        self.service = service

    def collect(self) -> Iterator[Metric]:
        ns, svc = self.namespace, self.service
        requests = CounterMetricFamily(
            "http_requests",
            "HTTP requests served, by route and status code.",
            labels=["namespace", "service", "route", "code"],
        )
        latency = HistogramMetricFamily(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            labels=["namespace", "service", "route"],
        )
        upstream = CounterMetricFamily(
            "upstream_requests",
            "Calls to upstream services, by result (ok, error, refused, timeout, auth_failed).",
            labels=["namespace", "service", "upstream", "result"],
        )
        cache = CounterMetricFamily(
            "cache_requests",
            "Cache lookups made by this service, by result (hit, miss, error).",
            labels=["namespace", "service", "result"],
        )
        with self.state.lock:
            for (n, s, route, code), value in sorted(self.state.http.items()):
                if (n, s) == (ns, svc):
                    requests.add_metric([ns, svc, route, code], _whole(value))
            for (n, s, route), hist in sorted(self.state.latency.items()):
                if (n, s) == (ns, svc):
                    buckets = [
                        (_le(b), _whole(c)) for b, c in zip((*BUCKETS, math.inf), hist.buckets, strict=True)
                    ]
                    latency.add_metric([ns, svc, route], buckets, hist.total_s)
            for (n, s, up, result), value in sorted(self.state.upstream.items()):
                if (n, s) == (ns, svc):
                    upstream.add_metric([ns, svc, up, result], _whole(value))
            for (n, s, result), value in sorted(self.state.cache.items()):
                if (n, s) == (ns, svc):
                    cache.add_metric([ns, svc, result], _whole(value))
            queue = self._queue()
            db = self._db()
        yield from (requests, latency, upstream, cache, *queue, *db)

    def _queue(self) -> list[Metric]:
        state = self.state.queues.get((self.namespace, self.service))
        if state is None:
            return []
        labels = [self.namespace, state.name]
        depth = GaugeMetricFamily(
            "queue_depth", "Messages waiting in the queue.", labels=["namespace", "queue"]
        )
        depth.add_metric(labels, round(state.depth))
        lag = GaugeMetricFamily(
            "queue_consumer_lag_seconds",
            "Age of the oldest unconsumed message.",
            labels=["namespace", "queue"],
        )
        lag.add_metric(labels, round(state.lag_s, 3))
        consumed = CounterMetricFamily(
            "queue_messages_consumed", "Messages consumers acknowledged.", labels=["namespace", "queue"]
        )
        consumed.add_metric(labels, _whole(state.consumed))
        return [depth, lag, consumed]

    def _db(self) -> list[Metric]:
        state = self.state.db.get((self.namespace, self.service))
        if state is None:
            return []
        labels = [self.namespace, self.service]
        in_use = GaugeMetricFamily(
            "db_connections_in_use",
            "Client connections open on the database.",
            labels=["namespace", "service"],
        )
        in_use.add_metric(labels, state.in_use)
        maximum = GaugeMetricFamily(
            "db_connections_max", "The database's max_connections setting.", labels=["namespace", "service"]
        )
        maximum.add_metric(labels, state.max)
        return [in_use, maximum]


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)
