"""Hybrid recall scoring: vector similarity + metadata boosts + recency (no Chroma here).

score = similarity + boosts (same fault class, alert name, service, namespace) + recency bonus, where
the recency bonus halves every :data:`HALF_LIFE_DAYS`. The weights are small next to similarity so a
textually unrelated incident on the same service does not outrank the one that really matches, but
between two similar incidents the one on the same service, for the same alert, wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.records import IncidentRecord, PastIncident

BOOSTS: dict[str, float] = {"fault_class": 0.20, "alertname": 0.15, "service": 0.15, "namespace": 0.05}
RECENCY_WEIGHT = 0.10
HALF_LIFE_DAYS = 30.0


@dataclass(frozen=True)
class RecallQuery:
    """The metadata of the incident at hand (None = unknown, no boost)."""

    service: str | None = None
    namespace: str | None = None
    alertname: str | None = None
    fault_class: str | None = None

    def given(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}

    def where(self) -> dict[str, Any] | None:
        """A Chroma filter matching any of the given fields (to fetch boosted candidates too)."""
        clauses: list[dict[str, Any]] = [{k: v} for k, v in self.given().items()]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$or": clauses}


@dataclass(frozen=True)
class Candidate:
    """One nearest-neighbour hit from the vector store."""

    id: str
    distance: float
    record: IncidentRecord


def recency(started_at: datetime, now: datetime) -> float:
    """1.0 for now, 0.5 after one half-life, towards 0 for old incidents (future dates count as now)."""
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=UTC)
    age_days = max(0.0, (now - started_at).total_seconds() / 86400.0)
    return float(0.5 ** (age_days / HALF_LIFE_DAYS))


def score_candidate(c: Candidate, query: RecallQuery, now: datetime) -> PastIncident:
    """The hybrid score of one candidate, with the fields that matched."""
    similarity = min(1.0, max(0.0, 1.0 - c.distance))
    matched = [k for k, v in query.given().items() if getattr(c.record, k) == v]
    boost = sum(BOOSTS[k] for k in matched)
    score = similarity + boost + RECENCY_WEIGHT * recency(c.record.started_at, now)
    return PastIncident(
        record=c.record, score=round(score, 4), similarity=round(similarity, 4), matched=matched
    )


def rank_candidates(
    candidates: list[Candidate], query: RecallQuery, *, now: datetime | None = None
) -> list[PastIncident]:
    """Candidates best first; ties broken by the more recent incident, then by id (stable)."""
    when = now or datetime.now(UTC)
    scored = [score_candidate(c, query, when) for c in candidates]
    scored.sort(key=lambda p: (-p.score, -p.record.started_at.timestamp(), p.id))
    return scored


def unseen_score_bound(candidates: Mapping[str, Candidate], query: RecallQuery) -> float:
    """The best score an incident outside these nearest candidates could reach.

    It is no closer than the farthest candidate, and at most gets every boost and full recency.
    """
    farthest = max(c.distance for c in candidates.values())
    similarity = min(1.0, max(0.0, 1.0 - farthest))
    return similarity + sum(BOOSTS[k] for k in query.given()) + RECENCY_WEIGHT


def metadata_scores(
    matches: Mapping[str, npt.NDArray[np.bool_]], started_ts: npt.NDArray[np.float64], now: datetime
) -> npt.NDArray[np.float64]:
    """Boosts + recency bonus of many incidents at once: the score without its similarity part.

    ``matches[field]`` says which incidents match the query on that field; ``started_ts`` is their
    start (seconds since the epoch). The same sums as :func:`score_candidate`, vectorised.
    """
    out = np.zeros(len(started_ts), np.float64)
    for field, mask in matches.items():
        out += BOOSTS[field] * mask
    age_days = np.maximum(0.0, (now.timestamp() - started_ts) / 86400.0)
    return out + RECENCY_WEIGHT * np.exp2(-age_days / HALF_LIFE_DAYS)
