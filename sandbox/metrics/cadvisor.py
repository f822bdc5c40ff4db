"""cAdvisor-style container metrics (as the kubelet's ``/metrics/cadvisor`` names them)."""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sandbox.traffic.state import MetricState

LABELS = ["namespace", "pod", "container"]


class CadvisorCollector(Collector):
    """CPU seconds, CFS periods/throttling, memory working set and limits per running container."""

    def __init__(self, state: MetricState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        cpu = CounterMetricFamily(
            "container_cpu_usage_seconds", "Cumulative CPU time consumed, in seconds.", labels=LABELS
        )
        periods = CounterMetricFamily(
            "container_cpu_cfs_periods", "Number of elapsed enforcement period intervals.", labels=LABELS
        )
        throttled = CounterMetricFamily(
            "container_cpu_cfs_throttled_periods", "Number of throttled period intervals.", labels=LABELS
        )
        memory = GaugeMetricFamily(
            "container_memory_working_set_bytes", "Current working set, in bytes.", labels=LABELS
        )
        limit = GaugeMetricFamily(
            "container_spec_memory_limit_bytes", "Memory limit, in bytes.", labels=LABELS
        )
        quota = GaugeMetricFamily(
            "container_spec_cpu_quota", "CPU quota per 100ms period, in us.", labels=LABELS
        )
        with self.state.lock:
            for (ns, pod, container), u in sorted(self.state.containers.items()):
                labels = [ns, pod, container]
                cpu.add_metric(labels, round(u.cpu_seconds, 6))
                memory.add_metric(labels, float(round(u.memory_bytes)))
                limit.add_metric(labels, float(u.memory_limit_bytes or 0.0))
                if u.cpu_limit_cores:
                    periods.add_metric(labels, float(math.floor(u.cfs_periods)))
                    throttled.add_metric(labels, float(math.floor(u.cfs_throttled)))
                    quota.add_metric(labels, u.cpu_limit_cores * 100_000.0)
        yield from (cpu, periods, throttled, memory, limit, quota)
