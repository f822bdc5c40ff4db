"""Traffic on the real simulated cluster: seeded platform, real controllers, changes made as kubectl
would make them (through the store the API serves), symptoms seen in the metrics and logs."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from integration.test_traffic_fixture import T0, FakeClock, ListSink
from prometheus_client.parser import text_string_to_metric_families

from sandbox.kube.store import Store
from sandbox.metrics import metrics_targets
from sandbox.platform import seed
from sandbox.sim import Simulation
from sandbox.traffic import Traffic, TrafficControl

NS = "market-predictor"


@dataclass
class Platform:
    store: Store
    sim: Simulation
    traffic: Traffic
    control: TrafficControl
    clock: FakeClock
    logs: ListSink

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.clock.now += 1.0
            self.sim.tick()
            self.traffic.tick(1.0)

    def total(self, service: str, name: str, **labels: str) -> float:
        text = metrics_targets(self.store, self.traffic)[f"/metrics/app/{NS}/{service}"]().decode()
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name and labels.items() <= s.labels.items()
        )

    def ratio_5xx(self, service: str, since: tuple[float, float] = (0.0, 0.0)) -> float:
        bad = self.total(service, "http_requests_total", code="503") + sum(
            self.total(service, "http_requests_total", code=c) for c in ("500", "502", "504")
        )
        total = self.total(service, "http_requests_total")
        return (bad - since[0]) / max(total - since[1], 1.0)

    def mark(self, service: str) -> tuple[float, float]:
        total = self.total(service, "http_requests_total")
        return total * self.ratio_5xx(service), total


@pytest.fixture
def platform() -> Platform:
    clock = FakeClock(T0)
    store = Store()
    seed(store)
    logs = ListSink()
    sim = Simulation(store, logs, clock=clock, seed=3)
    control = TrafficControl(clock=clock)
    traffic = Traffic(store, sim.runtime, logs, control, clock=clock, seed=3)
    p = Platform(store, sim, traffic, control, clock, logs)
    p.run(30)
    return p


def test_seeded_platform_serves_cleanly(platform: Platform) -> None:
    mark = platform.mark("api-gateway")
    platform.run(20)
    assert platform.ratio_5xx("api-gateway", mark) < 0.01
    assert platform.total("feature-store", "db_connections_in_use") > 0


def test_selector_change_refuses_and_its_fix_heals(platform: Platform) -> None:
    platform.store.mutate(
        "services", NS, "predictor", lambda s: s["spec"].update(selector={"app": "predictr"})
    )
    mark = platform.mark("api-gateway")
    platform.run(10)
    assert (
        platform.total("api-gateway", "upstream_requests_total", upstream="predictor", result="refused") > 0
    )
    assert platform.ratio_5xx("api-gateway", mark) > 0.5
    platform.store.mutate(
        "services", NS, "predictor", lambda s: s["spec"].update(selector={"app": "predictor"})
    )
    platform.run(3)
    mark = platform.mark("api-gateway")
    platform.run(10)
    assert platform.ratio_5xx("api-gateway", mark) < 0.01


def test_rotated_secret_breaks_clients_once_the_database_restarts(platform: Platform) -> None:
    new = base64.b64encode(b"rotated-pw").decode()
    platform.store.mutate(
        "secrets", NS, "feature-store-credentials", lambda s: s["data"].update(password=new)
    )
    platform.run(5)  # nothing restarted yet: every pod keeps the password it started with
    assert platform.total("predictor", "upstream_requests_total", result="auth_failed") == 0
    for pod in platform.store.list("pods", NS):
        if pod["metadata"]["labels"].get("app") == "feature-store":
            platform.store.delete("pods", NS, pod["metadata"]["name"])
    platform.run(30)
    assert platform.total("predictor", "upstream_requests_total", result="auth_failed") > 0
    assert any(
        "authentication failed" in line
        for labels, line in platform.logs.lines
        if labels["app"] == "predictor"
    )


def test_surge_beyond_hpa_max_saturates_predictor_cpu(platform: Platform) -> None:
    platform.control.set_surge(NS, "predictor", multiplier=4.0)
    platform.run(40)
    hpa = platform.store.get("horizontalpodautoscalers", NS, "predictor")
    assert hpa["status"]["currentReplicas"] == hpa["spec"]["maxReplicas"]
    pods = [k for k in platform.sim.runtime.pods() if k[0] == NS and k[1].startswith("predictor-")]
    cpu = [platform.sim.runtime.usage(*k).cpu_millicores for k in pods]
    assert min(cpu) > 850  # the limit is 1 core: CPUSaturation territory
