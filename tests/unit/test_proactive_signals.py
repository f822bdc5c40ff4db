"""Anomalies and forecasts on synthetic series: a memory leak, steady growth towards saturation, and
a seasonal peak that is only busy (which must raise neither an anomaly nor a forecast)."""

from __future__ import annotations

import numpy as np
import pytest

from tools.proactive.forecast import DAY, HOUR, forecast
from tools.proactive.seasonal import WEEK, detect, history_span_note

STEP = 300
MI = 1024**2
# 2026-11-02 is a Monday; the series end on Monday 2026-11-16 at 10:00 UTC, in a Monday-morning peak
END = 1_793_577_600.0 + 14 * DAY + 10 * HOUR
T = END - np.arange(14 * DAY // STEP)[::-1] * STEP


def _day_shape(t: np.ndarray) -> np.ndarray:
    hour = (t % DAY) / HOUR
    return np.clip(np.sin((hour - 6) / 12 * np.pi), 0, None)


def _weekday(t: np.ndarray) -> np.ndarray:
    return np.where(((t // DAY) + 3) % 7 < 5, 1.0, 0.4)  # 1970-01-01 was a Thursday


def _monday_morning(t: np.ndarray) -> np.ndarray:
    monday = ((t // DAY) + 3) % 7 == 0
    hour = (t % DAY) / HOUR
    return (monday & (hour >= 8) & (hour < 12)).astype(float)


def busy_traffic(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (100 + 120 * _day_shape(T) * _weekday(T) + 150 * _monday_morning(T)) * rng.normal(1, 0.03, T.size)


def test_seasonal_peak_that_is_only_busy_raises_nothing() -> None:
    v = busy_traffic()
    assert v[-1] > 2.5 * np.median(v)  # it is a peak: far above the usual level
    assert detect(T, v) is None
    f = forecast(T, v, limit=600)
    assert f is not None and not f.crosses and f.earliest_hours is None


def test_a_jump_at_the_same_hour_is_an_anomaly_with_its_baseline() -> None:
    v = busy_traffic()
    v[-4:] *= 1.8
    a = detect(T, v)
    assert a is not None and a.direction == "up" and a.points == 3
    assert a.baseline.weeks == 2 and a.baseline.median == pytest.approx(
        np.median(v[-4 - 2016 : -2016]), rel=0.15
    )
    assert "spreads above the usual" in a.explain()
    v2 = busy_traffic()
    v2[-4:] *= 0.3
    drop = detect(T, v2, direction="both")
    assert drop is not None and drop.direction == "down"
    assert detect(T, v2, direction="up") is None


def test_memory_leak_is_an_anomaly_and_a_forecast_crossing() -> None:
    rng = np.random.default_rng(2)
    leak_start = END - 36 * HOUR
    v = 300 * MI + rng.normal(0, 2 * MI, T.size) + np.clip(T - leak_start, 0, None) / HOUR * 4 * MI
    a = detect(T, v, direction="up")
    assert a is not None and a.value > 1.4 * a.baseline.median
    f = forecast(T, v, limit=512 * MI)
    assert f is not None and f.crosses
    assert f.eta_hours == pytest.approx((512 - 444) / 4, abs=1.5)  # 4 MiB an hour from 444 MiB
    assert f.earliest_hours is not None and f.latest_hours is not None
    assert f.earliest_hours <= f.eta_hours <= f.latest_hours
    assert "crosses the limit" in f.explain()


def test_growth_towards_saturation_crosses_at_a_daily_peak() -> None:
    rng = np.random.default_rng(3)
    days = (T - T[0]) / DAY
    cpu = 0.4 * (1 + 0.04 * days) + 0.25 * _day_shape(T) + rng.normal(0, 0.01, T.size)
    f = forecast(T, cpu, limit=0.9, horizon_s=3 * DAY)
    assert f is not None and f.crosses and 0 < f.eta_hours < 72
    assert f.slope_per_day == pytest.approx(0.016, abs=0.006)
    hour_of_crossing = ((T[-1] + f.eta_hours * HOUR) % DAY) / HOUR
    assert 9 <= hour_of_crossing <= 15  # at a daily peak, not at night
    quiet = forecast(T, cpu, limit=1.5)
    assert quiet is not None and not quiet.crosses


def test_already_over_the_limit_and_too_little_history() -> None:
    f = forecast(T[-50:], np.full(50, 10.0), limit=5)
    assert f is not None and f.eta_hours == 0 and "already at" in f.explain()
    assert forecast(T[:5], np.ones(5), limit=2) is None
    assert detect(T[-100:], busy_traffic()[-100:]) is None
    assert history_span_note(T[-100:]) == "only 0.3 days of history: a seasonal baseline needs at least 7"
    assert history_span_note(T[-int(WEEK // STEP) - 1 :]) is None
