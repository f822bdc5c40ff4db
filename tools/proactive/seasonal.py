"""Anomalies against a seasonal baseline, with statistics one can explain in a sentence.

The baseline of a point is what the same signal did at the same hour of the week in the weeks
before: the **median** of those samples (the hour before and after too, for more of them), and its
spread the **MAD** (median absolute deviation, x 1.4826 so it matches a standard deviation on normal
data). A point is anomalous when it sits more than ``z`` spreads from that median *and* differs
from it by at least ``min_rel`` of the median and ``min_abs`` (a flat, quiet baseline has a tiny
MAD: an error ratio of 0.1% against a usual 0% is not news). The recent
window is a finding only when every point in it is anomalous the same way: one odd scrape is not.

A Monday-morning peak is in Monday morning's baseline, so a busy Monday is not an anomaly; a memory
leak or a traffic jump is. With under a week of history there is no seasonal baseline, and the
finding says so instead of guessing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
MAD_SCALE = 1.4826
Direction = Literal["up", "down", "both"]


@dataclass
class Baseline:
    median: float
    spread: float
    samples: int
    weeks: int
    kind: str = "hour-of-week median/MAD"


@dataclass
class Anomaly:
    direction: Literal["up", "down"]
    value: float
    baseline: Baseline
    score: float
    since: float
    points: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def explain(self) -> str:
        b = self.baseline
        return (
            f"{self.value:.4g} is {abs(self.score):.1f} spreads {'above' if self.direction == 'up' else 'below'} "
            f"the usual {b.median:.4g} ± {b.spread:.2g} for this hour of the week "
            f"({b.samples} samples from {b.weeks} earlier weeks)"
        )


def _slot_distance(a: np.ndarray, b: float) -> np.ndarray:
    """Seconds between positions in the week, going round the end of the week."""
    d: np.ndarray = np.abs((a % WEEK) - (b % WEEK))
    return np.asarray(np.minimum(d, WEEK - d))


def baseline_at(
    ts: np.ndarray, values: np.ndarray, t: float, *, width_s: float = HOUR, rel_floor: float = 0.02
) -> Baseline | None:
    """The baseline of time ``t`` from samples of earlier weeks within ``width_s`` of its hour."""
    earlier = ts <= t - WEEK + width_s
    near = earlier & (_slot_distance(ts, t) <= width_s)
    sample = values[near]
    if sample.size < 5:
        return None
    median = float(np.median(sample))
    mad = float(np.median(np.abs(sample - median))) * MAD_SCALE
    spread = max(mad, rel_floor * abs(median), 1e-12)
    weeks = int(np.unique(((t - ts[near]) // WEEK).astype(int)).size)
    return Baseline(median=median, spread=spread, samples=int(sample.size), weeks=weeks)


def detect(
    ts: Any,
    values: Any,
    *,
    direction: Direction = "both",
    recent_s: float = 15 * 60,
    z: float = 4.0,
    min_rel: float = 0.2,
    min_abs: float = 0.0,
) -> Anomaly | None:
    """The anomaly of the last ``recent_s`` seconds, or None (also None without a week of history)."""
    t = np.asarray(ts, dtype=float)
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    t, v = t[ok], v[ok]
    if t.size == 0 or t[-1] - t[0] < WEEK:
        return None
    recent = t > t[-1] - recent_s
    history_t, history_v = t[~recent], v[~recent]
    scores, medians = [], []
    last: Baseline | None = None
    for ti, vi in zip(t[recent], v[recent], strict=True):
        b = baseline_at(history_t, history_v, ti)
        if b is None:
            return None
        off = vi - b.median
        if abs(off) < max(min_rel * abs(b.median), min_abs):
            return None
        scores.append(off / b.spread)
        medians.append(b.median)
        last = b
    if last is None or len(scores) < 2:
        return None
    arr = np.asarray(scores)
    up, down = bool((arr > z).all()), bool((arr < -z).all())
    if not (up and direction in ("up", "both")) and not (down and direction in ("down", "both")):
        return None
    return Anomaly(
        direction="up" if up else "down",
        value=float(np.median(v[recent])),
        baseline=last,
        score=float(np.median(arr)),
        since=float(t[recent][0]),
        points=int(arr.size),
    )


def history_span_note(ts: Any) -> str | None:
    """Why there is no seasonal baseline, when there is none."""
    t = np.asarray(ts, dtype=float)
    span = float(t[-1] - t[0]) if t.size else 0.0
    if span >= WEEK:
        return None
    return f"only {span / DAY:.1f} days of history: a seasonal baseline needs at least 7"
