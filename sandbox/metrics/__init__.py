"""Prometheus exposition for the sandbox: app metrics per service, kube-state-metrics, cAdvisor.

Collectors yield from current state on every scrape (the store for kube-state-metrics, the traffic
engine's :class:`~sandbox.traffic.state.MetricState` for the rest), so what Prometheus sees is
always what the objects say now.

- :func:`metrics_targets` maps a URL path to a function producing exposition bytes:
  ``/metrics/app/<namespace>/<service>`` per deployment or service, ``/metrics/kube-state-metrics`` and
  ``/metrics/cadvisor``. The orchestrator writes one Prometheus scrape job per key.
- :func:`start_metrics_server` serves them on loopback.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from sandbox.kube.store import Store
from sandbox.metrics.app import AppCollector
from sandbox.metrics.cadvisor import CadvisorCollector
from sandbox.metrics.ksm import KubeStateCollector
from sandbox.metrics.server import MetricsServer, start_metrics_server
from sandbox.traffic.state import MetricState

Target = Callable[[], bytes]
KSM_PATH = "/metrics/kube-state-metrics"
CADVISOR_PATH = "/metrics/cadvisor"

__all__ = ["MetricsServer", "app_path", "exposition", "metrics_targets", "start_metrics_server"]


def app_path(namespace: str, service: str) -> str:
    """The URL path of one service's app metrics target."""
    return f"/metrics/app/{namespace}/{service}"


def exposition(*collectors: Collector) -> Target:
    """A target function rendering ``collectors`` in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return lambda: generate_latest(registry)


def metrics_targets(store: Store, state: MetricState | object) -> dict[str, Target]:
    """Every scrape target: one per deployment (app metrics), kube-state-metrics and cAdvisor.

    ``state`` is the traffic engine's ``MetricState`` (or the ``Traffic`` engine itself). Targets
    are listed from the deployments and services in the store now; call again after adding deployments.
    """
    metrics = state if isinstance(state, MetricState) else getattr(state, "metrics", None)
    if not isinstance(metrics, MetricState):
        raise TypeError(
            f"metrics_targets needs the traffic engine's MetricState (traffic.metrics), got {type(state).__name__}"
        )
    targets: dict[str, Target] = {
        KSM_PATH: exposition(KubeStateCollector(store)),
        CADVISOR_PATH: exposition(CadvisorCollector(metrics)),
    }
    services = {
        (o["metadata"].get("namespace", ""), o["metadata"]["name"])
        for kind in ("deployments", "services")
        for o in store.list(kind)
    }
    for ns, name in sorted(services):
        targets[app_path(ns, name)] = exposition(AppCollector(metrics, ns, name))
    return targets
