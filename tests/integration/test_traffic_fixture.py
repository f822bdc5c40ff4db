"""A hand-built market-predictor for the traffic and metrics tests (no controllers needed).

Pods, services and runtime state are written directly, as the kubelet and the endpoints controller
would leave them when everything is healthy; each test then breaks one object the way ``kubectl``
would and ticks the traffic engine deterministically (fake clock, seeded RNG).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from sandbox.images import CURRENT, get_profile
from sandbox.kube.store import Store
from sandbox.metrics import metrics_targets
from sandbox.sim.runtime import ContainerRuntime, Runtime
from sandbox.traffic import Traffic, TrafficControl

NS = "market-predictor"
T0 = 1_764_165_600.0  # 2025-11-26 14:00 UTC: the daily peak
DB_URL = "postgres://feature-store:5432/features"
ENV: dict[str, dict[str, str]] = {
    "api-gateway": {
        "PREDICTOR_URL": "http://predictor:8000",
        "CACHE_URL": "redis://cache:6379",
        "CACHE_PASSWORD": "cache-secret",
    },
    "predictor": {
        "FEATURE_STORE_URL": DB_URL,
        "FEATURE_STORE_PASSWORD": "db-secret",
        "DB_POOL_SIZE": "5",
        "MODEL_PATH": "/models/v4",
    },
    "feature-store": {"DB_PASSWORD": "db-secret", "MAX_CONNECTIONS": "100"},
    "cache": {"CACHE_PASSWORD": "cache-secret"},
    "queue": {},
    "ingest-worker": {
        "QUEUE_URL": "amqp://queue:5672",
        "QUEUE_NAME": "market-ticks",
        "FEATURE_STORE_URL": DB_URL,
        "FEATURE_STORE_PASSWORD": "db-secret",
        "POOL_SIZE": "8",
    },
}
REPLICAS = {"api-gateway": 3, "predictor": 3, "feature-store": 1, "cache": 1, "queue": 1, "ingest-worker": 2}
# As sandbox/platform.py sets them (limits in millicores).
CPU_LIMIT_M = {"api-gateway": 1000, "predictor": 1000, "feature-store": 2000, "cache": 500, "queue": 1000}
SERVICE_PORTS = {"api-gateway": 80, "ingest-worker": 9090}


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Cluster:
    """The store, runtime, control and engine of one test, plus helpers to break things."""

    store: Store
    runtime: Runtime
    control: TrafficControl
    clock: FakeClock
    logs: ListSink
    traffic: Traffic
    pods: dict[str, list[str]] = field(default_factory=dict)

    def run(self, seconds: int) -> None:
        """Advance the fake clock and tick once per second."""
        for _ in range(seconds):
            self.clock.now += 1.0
            self.traffic.tick(1.0)

    def scrape(self, path: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Parse one metrics target into {(sample name, sorted labels): value}."""
        text = metrics_targets(self.store, self.traffic.metrics)[path]().decode()
        out = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def total(self, path: str, name: str, **labels: str) -> float:
        """Sum of samples named ``name`` whose labels include ``labels``."""
        return sum(
            v
            for (n, lbls), v in self.scrape(path).items()
            if n == name and all(dict(lbls).get(k) == val for k, val in labels.items())
        )

    def set_env(self, app: str, **env: str) -> None:
        """Change the resolved env of every pod of ``app`` (as after a restart with a new value)."""
        for pod in self.pods[app]:
            for c in self.runtime.containers(NS, pod):
                c.env.update(env)
                self.runtime.put(c)

    def patch_service(self, name: str, fn: Any) -> None:
        self.store.mutate("services", NS, name, fn)

    def remove_pods(self, app: str) -> None:
        """Scale ``app`` to zero: its pods and containers are gone."""
        for pod in self.pods.pop(app, []):
            self.store.delete("pods", NS, pod)
            self.runtime.remove_pod(NS, pod)

    def set_ready(self, app: str, ready: bool) -> None:
        for pod in self.pods[app]:
            for c in self.runtime.containers(NS, pod):
                c.ready = ready
                self.runtime.put(c)

    def http(self, service: str, code_prefix: str = "") -> float:
        return sum(
            v
            for (n, lbls), v in self.scrape(f"/metrics/app/{NS}/{service}").items()
            if n == "http_requests_total" and dict(lbls)["code"].startswith(code_prefix)
        )

    def lines(self, app: str | None = None) -> list[str]:
        return [line for labels, line in self.logs.lines if app is None or labels["app"] == app]


class ListSink:
    def __init__(self) -> None:
        self.lines: list[tuple[dict[str, str], str]] = []

    def append(self, labels: Any, line: str, ts_ns: int | None = None, *, restart: int = 0) -> None:
        self.lines.append((dict(labels), line))


def _pod(app: str, index: int, image: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{app}-7d9f8-{index:05d}", "namespace": NS, "labels": {"app": app}},
        "spec": {
            "nodeName": f"node-{'abc'[index % 3]}",
            "containers": [{"name": app, "image": image, "ports": [{"name": "main", "containerPort": port}]}],
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def build(clock: FakeClock | None = None, images: dict[str, str] | None = None) -> Cluster:
    """The healthy platform: six apps, their services, resolved env and running containers."""
    clock = clock or FakeClock()
    store, runtime = Store(), Runtime()
    pods: dict[str, list[str]] = {}
    for app, replicas in REPLICAS.items():
        image = (images or {}).get(app, CURRENT[app])
        profile = get_profile(image)
        assert profile is not None, image
        store.create(
            "services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": app, "namespace": NS},
                "spec": {
                    "selector": {"app": app},
                    "ports": [{"port": SERVICE_PORTS.get(app, profile.port), "targetPort": profile.port}],
                },
            },
        )
        for i in range(replicas):
            obj = store.create("pods", _pod(app, i, image, profile.port))
            name = obj["metadata"]["name"]
            pods.setdefault(app, []).append(name)
            runtime.put(
                ContainerRuntime(
                    namespace=NS,
                    pod=name,
                    container=app,
                    app=app,
                    node=obj["spec"]["nodeName"],
                    image=image,
                    profile=profile,
                    env=dict(ENV[app]),
                    started_at=clock.now - 3600.0 if app != "ingest-worker" else clock.now - 10.0,
                    running=True,
                    ready=True,
                    listening_port=profile.port,
                    cpu_limit_millicores=CPU_LIMIT_M.get(app, 1000),
                    memory_limit_mib=1024.0,
                    pod_ip=f"10.0.{len(pods)}.{i + 10}",
                )
            )
    control = TrafficControl(clock=clock)
    sink = ListSink()
    traffic = Traffic(store, runtime, sink, control, clock=clock, seed=7)
    return Cluster(store, runtime, control, clock, sink, traffic, pods)
