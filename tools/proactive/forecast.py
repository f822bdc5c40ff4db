"""Time to saturation: when a usage series will cross its limit, with an uncertainty band.

The model, in three robust pieces:

1. **season**: the median by hour of the week (by hour of the day with under a week of
   history; none with under two days) of the history before the trend window, less its own
   Theil-Sen line (so growth is not mistaken for season, nor a recent leak);
2. **trend**: the Theil-Sen line of what the season leaves over the last ``trend_s`` (a day by
   default: what is happening now, so a leak that began yesterday is not averaged away by two calm
   weeks), the median of the slopes between pairs of points at least a third of that apart (a spike
   or a restart moves it little); their 10th and 90th percentile slopes bound the band;
3. **noise**: the 5th and 95th percentiles of what trend and season leave.

The forecast at a future time is trend + season; the band adds the low/high slope and the noise
percentiles. The crossing is the first time the forecast reaches the limit (``eta``); the band's
upper edge gives the earliest, its lower edge the latest (None: not within the horizon).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
MAX_PAIRS = 20_000


@dataclass
class Forecast:
    limit: float
    now_value: float
    slope_per_day: float
    slope_band_per_day: tuple[float, float]
    season: str
    horizon_hours: float
    eta_hours: float | None
    earliest_hours: float | None
    latest_hours: float | None
    peak_in_horizon: float
    peak_band: tuple[float, float]

    @property
    def crosses(self) -> bool:
        """The central forecast reaches the limit within the horizon."""
        return self.eta_hours is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"crosses": self.crosses}

    def explain(self) -> str:
        if self.eta_hours == 0:
            return f"already at {self.now_value:.4g}, at or over the limit {self.limit:.4g}"
        trend = f"trend {self.slope_per_day:+.3g}/day (band {self.slope_band_per_day[0]:+.3g}..{self.slope_band_per_day[1]:+.3g})"
        if self.eta_hours is None:
            edge = (
                f"; the band's upper edge reaches it in {self.earliest_hours:.1f} h"
                if self.earliest_hours
                else ""
            )
            return (
                f"{self.now_value:.4g} now, peak {self.peak_in_horizon:.4g} forecast within {self.horizon_hours:.0f} h, "
                f"below the limit {self.limit:.4g}{edge} ({trend}, {self.season})"
            )
        latest = f"{self.latest_hours:.1f} h" if self.latest_hours is not None else "beyond the horizon"
        return (
            f"crosses the limit {self.limit:.4g} in {self.eta_hours:.1f} h (between {self.earliest_hours:.1f} h "
            f"and {latest}); {self.now_value:.4g} now, {trend}, {self.season}"
        )


def theil_sen(t: np.ndarray, v: np.ndarray, min_dt: float = 0.0, seed: int = 0) -> tuple[float, float, float]:
    """Median slope and its 10th/90th percentiles over (up to MAX_PAIRS random) pairs of points at
    least ``min_dt`` apart."""
    n = t.size
    rng = np.random.default_rng(seed)
    if n * (n - 1) // 2 <= MAX_PAIRS:
        i, j = np.triu_indices(n, k=1)
    else:
        i = rng.integers(0, n, MAX_PAIRS * 4)
        j = rng.integers(0, n, MAX_PAIRS * 4)
    keep = np.abs(t[j] - t[i]) >= max(min_dt, 1e-9)
    slopes = (v[j][keep] - v[i][keep]) / (t[j][keep] - t[i][keep])
    if slopes.size == 0:
        return 0.0, 0.0, 0.0
    lo, mid, hi = np.percentile(slopes, [10, 50, 90])
    return float(mid), float(lo), float(hi)


def _slots(t: np.ndarray, period: float | None) -> np.ndarray:
    if period is None:
        return np.zeros(t.size, dtype=int)
    return ((t % period) // HOUR).astype(int)


def forecast(
    ts: Any, values: Any, limit: float, *, horizon_s: float = 3 * DAY, trend_s: float = DAY
) -> Forecast | None:
    """Forecast ``values`` (at times ``ts``, seconds) against ``limit``; None with under 10 points."""
    t = np.asarray(ts, dtype=float)
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    t, v = t[ok], v[ok]
    if t.size < 10:
        return None
    span = t[-1] - t[0]
    recent = t >= t[-1] - min(trend_s, span)
    older = ~recent
    old_span = float(t[older][-1] - t[older][0]) if older.sum() > 1 else 0.0
    period = WEEK if old_span >= WEEK else DAY if old_span >= 2 * DAY else None
    season = {WEEK: "hour-of-week season", DAY: "hour-of-day season", None: "no season (under 2 days)"}[
        period
    ]
    profile: dict[int, float] = {}
    old_noise = np.zeros(0)
    if period is not None:
        to, vo = t[older], v[older]
        s_old, _, _ = theil_sen(to, vo, min_dt=old_span / 3)
        rest_old = vo - s_old * (to - np.median(to))
        rest_old = rest_old - float(np.median(rest_old))
        slots_old = _slots(to, period)
        profile = {int(k): float(np.median(rest_old[slots_old == k])) for k in np.unique(slots_old)}
        old_noise = rest_old - np.array([profile[int(k)] for k in slots_old])

    def seasonal(times: np.ndarray) -> np.ndarray:
        return np.array([profile.get(int(k), 0.0) for k in _slots(times, period)])

    tr = t[recent]
    dr = v[recent] - seasonal(tr)
    slope, lo, hi = theil_sen(tr, dr, min_dt=(tr[-1] - tr[0]) / 3)
    t0 = float(np.median(tr))
    v0 = float(np.median(dr - slope * (tr - t0)))
    noise = np.concatenate([old_noise, dr - (v0 + slope * (tr - t0))])
    q05, q95 = (float(x) for x in np.percentile(noise, [5, 95]))
    step = max(float(np.median(np.diff(t))), 60.0)
    future = t[-1] + np.arange(1, int(horizon_s // step) + 1) * step
    seas = seasonal(future)
    central = v0 + slope * (future - t0) + seas
    upper = v0 + hi * (future - t0) + seas + q95
    lower = v0 + lo * (future - t0) + seas + q05
    now = float(np.median(v[-3:]))

    def first(curve: np.ndarray) -> float | None:
        if now >= limit:
            return 0.0
        over = np.nonzero(curve >= limit)[0]
        return float((future[over[0]] - t[-1]) / HOUR) if over.size else None

    return Forecast(
        limit=limit,
        now_value=now,
        slope_per_day=slope * DAY,
        slope_band_per_day=(lo * DAY, hi * DAY),
        season=season,
        horizon_hours=horizon_s / HOUR,
        eta_hours=first(central),
        earliest_hours=first(upper),
        latest_hours=first(lower),
        peak_in_horizon=float(central.max()) if central.size else now,
        peak_band=(float(lower.max()), float(upper.max())) if central.size else (now, now),
    )
