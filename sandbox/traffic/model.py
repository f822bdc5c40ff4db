"""The arithmetic of the traffic simulation: load shape, capacity, queueing and latency tails.

Everything here is a pure function of numbers, so the engine stays a bookkeeping loop and these
curves can be read (and tuned) in one place.
"""

from __future__ import annotations

import math

DAY_S = 86_400.0
PEAK_HOUR_UTC = 14.0  # busiest hour of the wall-clock day
LATENCY_SIGMA = 0.6  # spread of the per-request latency distribution (lognormal)
MAX_QUEUEING = 0.95  # utilization at which the queueing factor stops growing (20x)
THROTTLE_START = 0.75  # CFS throttling starts showing above this share of the CPU limit

# Upstream call timeouts by upstream kind (seconds): a caller gives up after this long.
TIMEOUT_S = {"http": 2.0, "db": 1.0, "cache": 0.25, "queue": 1.0}
# Latency of a failed connect (refused) in seconds.
REFUSED_S = 0.002
# How long a request the server could not serve (CPU over the limit) takes before it times out.
SHED_S = 5.0


def daily_shape(now: float, amplitude: float) -> float:
    """Load multiplier for the wall-clock time ``now``: a sine over the day peaking at 14:00 UTC."""
    hours = (now % DAY_S) / 3600.0
    return 1.0 + amplitude * math.cos(2.0 * math.pi * (hours - PEAK_HOUR_UTC) / 24.0)


def queueing_factor(utilization: float) -> float:
    """How much slower a request gets at this CPU utilization (share of the limit), M/M/1 style.

    1.0 when idle, 2x at 50%, 5x at 80%, capped at 20x from 95% on.
    """
    return 1.0 / (1.0 - min(max(utilization, 0.0), MAX_QUEUEING))


def served_fraction(demand_m: float, limit_m: float | None, idle_m: float) -> float:
    """Share of the offered requests a container can serve in time with its CPU limit."""
    if limit_m is None or demand_m <= limit_m:
        return 1.0
    busy = demand_m - idle_m
    if busy <= 0:
        return 1.0
    return max(0.0, min(1.0, (limit_m - idle_m) / busy))


def throttled_share(demand_m: float, limit_m: float | None) -> float:
    """Share of CFS periods in which the container is throttled (0 without a limit)."""
    if not limit_m:
        return 0.0
    return max(0.0, min(1.0, (demand_m / limit_m - THROTTLE_START) / (1.0 - THROTTLE_START)))


def _lognormal_cdf(x: float, mean: float, sigma: float = LATENCY_SIGMA) -> float:
    if x <= 0:
        return 0.0
    if mean <= 0:
        return 1.0
    mu = math.log(mean) - sigma * sigma / 2.0
    return 0.5 * (1.0 + math.erf((math.log(x) - mu) / (sigma * math.sqrt(2.0))))


def share_slower_than(limit_s: float, mean_s: float) -> float:
    """Share of requests with mean latency ``mean_s`` that take longer than ``limit_s``."""
    return 1.0 - _lognormal_cdf(limit_s, mean_s)


def bucket_shares(mean_s: float, bounds: tuple[float, ...]) -> list[float]:
    """Cumulative share of requests at or under each bound (a histogram's ``le`` buckets)."""
    return [_lognormal_cdf(b, mean_s) for b in bounds]


class SmoothNoise:
    """Multiplicative noise around 1.0 that wanders (AR(1)) instead of jumping every tick."""

    def __init__(self, sigma: float = 0.02, keep: float = 0.8) -> None:
        self._sigma = sigma
        self._keep = keep
        self._value = 0.0

    def step(self, gauss: float) -> float:
        """Advance with one standard normal draw; returns the multiplier (never below 0.5)."""
        innovation = self._sigma * math.sqrt(1.0 - self._keep**2) * gauss
        self._value = self._keep * self._value + innovation
        return max(0.5, 1.0 + self._value)
