"""Learning from outcomes: success statistics per symptom signature and action.

Every verified outcome of an action (``fixed``, ``no_effect``, ``worse``, ``rejected`` by a human)
is counted in SQLite under (signature, action key). :meth:`OutcomeStats.rank` orders candidate
actions by the mean of a Beta posterior. The prior comes from the order the caller gives (a
runbook's order of preference) with a weight of two pseudo-observations, so one lucky success does
not dominate a long record, and two failures push an action below an untried alternative.

Weights: ``fixed`` is a success; ``no_effect`` and ``worse`` are failures (``worse`` counts 1.5);
``rejected`` counts half a failure: the human may have rejected the timing, not the idea.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection, Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import get_args

from knowledge.records import Outcome

PRIOR_STRENGTH = 2.0
PRIOR_BEST = 0.6
PRIOR_WORST = 0.4
FAILURE_WEIGHT: dict[str, float] = {"no_effect": 1.0, "worse": 1.5, "rejected": 0.5}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    signature  TEXT NOT NULL,
    action_key TEXT NOT NULL,
    fixed      INTEGER NOT NULL DEFAULT 0,
    no_effect  INTEGER NOT NULL DEFAULT 0,
    worse      INTEGER NOT NULL DEFAULT 0,
    rejected   INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    PRIMARY KEY (signature, action_key)
)
"""


def signature_for(
    alertname: str | None,
    finding_kinds: Iterable[str],
    service: str | None = None,
    *,
    relevant: Collection[str] | None = None,
) -> str:
    """A stable symptom signature: the alert, the sorted distinct finding kinds, the service.

    ``relevant`` (e.g. ``Runbook.relevant_kinds()`` of the runbook in charge) keeps only the kinds
    that matter for the decision, so a pod that happened to be starting does not make the same
    incident look new.

    >>> signature_for("KubePodCrashLooping", ["crash_loop", "config_changed", "crash_loop"], "predictor")
    'alert=KubePodCrashLooping|findings=config_changed,crash_loop|service=predictor'
    """
    kinds = ",".join(sorted({k for k in finding_kinds if k and (relevant is None or k in relevant)}))
    return f"alert={alertname or '-'}|findings={kinds or '-'}|service={service or '-'}"


class ActionStats:
    """Counts for one (signature, action key)."""

    __slots__ = ("action_key", "fixed", "no_effect", "rejected", "worse")

    def __init__(
        self, action_key: str, fixed: int = 0, no_effect: int = 0, worse: int = 0, rejected: int = 0
    ) -> None:
        self.action_key = action_key
        self.fixed = fixed
        self.no_effect = no_effect
        self.worse = worse
        self.rejected = rejected

    @property
    def tries(self) -> int:
        return self.fixed + self.no_effect + self.worse + self.rejected

    @property
    def failures(self) -> float:
        return float(sum(FAILURE_WEIGHT[k] * getattr(self, k) for k in FAILURE_WEIGHT))

    def posterior_mean(self, prior_mean: float) -> float:
        alpha = PRIOR_STRENGTH * prior_mean + self.fixed
        beta = PRIOR_STRENGTH * (1.0 - prior_mean) + self.failures
        return alpha / (alpha + beta)


def prior_means(n: int) -> list[float]:
    """Prior success means for n actions in preference order: PRIOR_BEST down to PRIOR_WORST."""
    if n <= 1:
        return [PRIOR_BEST] * n
    step = (PRIOR_BEST - PRIOR_WORST) / (n - 1)
    return [PRIOR_BEST - i * step for i in range(n)]


class OutcomeStats:
    """Outcome counts in a SQLite file (one connection per call: safe across threads and processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10.0)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def record(self, signature: str, action_key: str, outcome: Outcome) -> None:
        """Count one verified outcome."""
        if outcome not in get_args(Outcome):
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(get_args(Outcome))}")
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT INTO outcomes (signature, action_key, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (signature, action_key) DO NOTHING",
                (signature, action_key, time.time()),
            )
            db.execute(
                f"UPDATE outcomes SET {outcome} = {outcome} + 1, updated_at = ? WHERE signature = ? AND action_key = ?",
                (time.time(), signature, action_key),
            )

    def stats_for(self, signature: str) -> dict[str, ActionStats]:
        """Every action tried for this signature."""
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT action_key, fixed, no_effect, worse, rejected FROM outcomes WHERE signature = ? "
                "ORDER BY action_key",
                (signature,),
            ).fetchall()
        return {r[0]: ActionStats(*r) for r in rows}

    def rank(self, signature: str, action_keys: Sequence[str]) -> list[tuple[str, float]]:
        """Candidates best first with their expected success rate; ties keep the given order."""
        stats = self.stats_for(signature)
        priors = prior_means(len(action_keys))
        scored = [
            (key, round(stats.get(key, ActionStats(key)).posterior_mean(prior), 4), i)
            for i, (key, prior) in enumerate(zip(action_keys, priors, strict=True))
        ]
        scored.sort(key=lambda t: (-t[1], t[2]))
        return [(key, score) for key, score, _ in scored]

    def proven_fix(
        self, signature: str, action_keys: Sequence[str], *, min_fixed: int = 1, min_rate: float = 0.75
    ) -> str | None:
        """The candidate that fixed this exact signature before and (almost) never failed, if any.

        The planner may propose it straight away and skip the diagnostics: verify still checks it,
        and a failure here demotes it for next time.
        """
        stats = self.stats_for(signature)
        proven = [
            (s.fixed / s.tries, s.fixed, -i, key)
            for i, key in enumerate(action_keys)
            if (s := stats.get(key)) is not None and s.fixed >= min_fixed and s.fixed / s.tries >= min_rate
        ]
        return max(proven)[3] if proven else None

    def summary_for(self, signature: str, limit: int = 6) -> str:
        """Compact text for the model: what worked and what did not for this signature."""
        stats = sorted(self.stats_for(signature).values(), key=lambda s: (-s.tries, s.action_key))
        if not stats:
            return f"No recorded action outcomes for {signature}."
        lines = [f"Action outcomes for {signature}:"]
        for s in stats[:limit]:
            parts = [f"fixed {s.fixed}/{s.tries}"]
            parts += [f"{k} {getattr(s, k)}" for k in ("no_effect", "worse", "rejected") if getattr(s, k)]
            lines.append(f"- {s.action_key}: " + ", ".join(parts))
        return "\n".join(lines)

    def totals(self) -> dict[str, int]:
        """Counts over everything (for ``knowledge stats``)."""
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT COUNT(DISTINCT signature), COALESCE(SUM(fixed), 0), "
                "COALESCE(SUM(no_effect + worse + rejected), 0) FROM outcomes"
            ).fetchone()
        return {"signatures": int(row[0]), "fixed": int(row[1]), "not_fixed": int(row[2])}
