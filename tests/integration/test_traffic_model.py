"""The load and capacity curves, and the engine's background thread."""

from __future__ import annotations

import time

import pytest
from integration.test_traffic_fixture import NS, FakeClock, build

from sandbox.traffic import model
from sandbox.traffic.world import parse_url


def test_daily_shape_peaks_in_the_afternoon_and_stays_within_its_amplitude() -> None:
    day = [model.daily_shape(h * 3600.0, 0.06) for h in range(24)]
    assert max(day) == pytest.approx(1.06) and day.index(max(day)) == 14
    assert min(day) == pytest.approx(0.94) and day.index(min(day)) == 2


def test_latency_grows_sharply_towards_the_cpu_limit() -> None:
    factors = [model.queueing_factor(u) for u in (0.0, 0.5, 0.8, 0.95, 1.5)]
    assert factors == pytest.approx([1.0, 2.0, 5.0, 20.0, 20.0])


def test_over_the_limit_only_part_of_the_load_is_served_and_periods_throttle() -> None:
    assert model.served_fraction(900.0, 1000.0, 5.0) == 1.0
    assert model.served_fraction(2005.0, 1000.0, 5.0) == pytest.approx(0.4975)
    assert model.served_fraction(5000.0, None, 5.0) == 1.0
    assert model.throttled_share(500.0, 1000.0) == 0.0
    assert model.throttled_share(1200.0, 1000.0) == 1.0


def test_latency_buckets_are_cumulative_and_the_tail_is_sane() -> None:
    shares = model.bucket_shares(0.1, (0.01, 0.1, 1.0, 10.0))
    assert shares == sorted(shares) and shares[-1] == pytest.approx(1.0)
    assert model.share_slower_than(2.0, 0.1) < 1e-6 < model.share_slower_than(2.0, 1.5)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://predictor:8000", ("predictor", 8000)),
        ("redis://cache:6379/0", ("cache", 6379)),
        (
            "postgres://features@feature-store.market-predictor.svc:5432/db",
            ("feature-store.market-predictor.svc", 5432),
        ),
        ("amqp://queue", ("queue", 5672)),
        ("queue:5672", ("queue", 5672)),
    ],
)
def test_dependency_urls_name_a_host_and_port(url: str, expected: tuple[str, int]) -> None:
    assert parse_url(url) == expected


class WallClock(FakeClock):
    def __call__(self) -> float:
        return time.time()


def test_start_ticks_in_the_background_until_stopped() -> None:
    c = build(clock=WallClock(time.time()))
    c.traffic.start(interval_s=0.1)
    try:
        deadline = time.monotonic() + 10
        while c.runtime.usage(NS, "predictor-7d9f8-00000").rps == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.runtime.usage(NS, "predictor-7d9f8-00000").rps > 0
    finally:
        c.traffic.stop()
    served = c.http("api-gateway")
    time.sleep(0.3)
    assert c.http("api-gateway") == served
