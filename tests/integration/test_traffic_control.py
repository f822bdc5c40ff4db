"""TrafficControl: surges are the one non-Kubernetes input; they apply, expire and clear."""

from __future__ import annotations

import pytest
from integration.test_traffic_fixture import NS, FakeClock, build

from sandbox.traffic import TrafficControl


def test_surge_multiplies_only_its_target_and_route() -> None:
    control = TrafficControl(clock=FakeClock())
    control.set_surge(NS, "api-gateway", route="/api/v1/predict", multiplier=4.0, client="batch")
    assert control.multiplier(NS, "api-gateway", "/api/v1/predict") == 4.0
    assert control.multiplier(NS, "api-gateway", "/api/v1/quote") == 1.0
    assert control.multiplier("market-predictor-staging", "api-gateway", "/api/v1/predict") == 1.0
    assert control.clients(NS, "api-gateway", "/api/v1/predict") == ["batch"]


def test_setting_the_same_surge_again_replaces_it() -> None:
    control = TrafficControl(clock=FakeClock())
    control.set_surge(NS, "predictor", multiplier=4.0)
    control.set_surge(NS, "predictor", multiplier=2.0)
    assert control.multiplier(NS, "predictor", "/v1/predict") == 2.0
    assert len(control.state()["surges"]) == 1


def test_surge_expires_after_its_duration() -> None:
    clock = FakeClock()
    control = TrafficControl(clock=clock)
    control.set_surge(NS, "predictor", multiplier=3.0, duration_s=30)
    assert control.state()["surges"][0]["remaining_s"] == 30
    clock.now += 31
    assert control.multiplier(NS, "predictor") == 1.0
    assert control.state() == {"surges": []}


def test_clear_by_service_keeps_the_others() -> None:
    control = TrafficControl(clock=FakeClock())
    control.set_surge(NS, "predictor", multiplier=3.0)
    control.set_surge(NS, "api-gateway", multiplier=2.0)
    assert control.clear(service="predictor") == 1
    assert [s["service"] for s in control.state()["surges"]] == ["api-gateway"]
    assert control.clear() == 1


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_bad_multiplier_is_refused_with_the_value(bad: float) -> None:
    with pytest.raises(ValueError, match="multiplier must be > 0"):
        TrafficControl().set_surge(NS, "predictor", multiplier=bad)


def test_surge_on_the_edge_raises_gateway_and_predictor_load() -> None:
    c = build()
    c.run(10)
    before = c.runtime.usage(NS, "predictor-7d9f8-00000").rps
    c.control.set_surge(NS, "api-gateway", multiplier=2.0)
    c.run(3)
    assert c.runtime.usage(NS, "predictor-7d9f8-00000").rps > 1.7 * before
    c.control.clear()
    c.run(3)
    assert c.runtime.usage(NS, "predictor-7d9f8-00000").rps < 1.2 * before
