"""Hybrid recall without a metadata-filtered vector query: nearest neighbours + a bound on the rest.

score = similarity + metadata part (boosts + recency, :func:`knowledge.scoring.metadata_scores`).
The nearest ``n`` incidents come from one plain vector query, which is fast. Any other incident is no
more similar than the farthest of those, so its score is at most ``farthest similarity + its
metadata part``, and the side index (:mod:`knowledge.recall_index`) knows the metadata part of every
incident. Only the incidents whose bound beats the k-th score found so far can still win; their
vectors are fetched, best bound first, until the next bound cannot beat the k-th score (the
threshold algorithm of Fagin et al.). The result is the exhaustive ranking's top k, as far as the
vector index's nearest neighbours are the true ones, for at most :data:`FETCH_CAP` fetched vectors.

No Chroma here: the memory hands in a :class:`VectorStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from knowledge.recall_index import Columns
from knowledge.records import IncidentRecord
from knowledge.scoring import Candidate, RecallQuery, metadata_scores, score_candidate

FETCH_CAP = 2048
"""At most this many vectors outside the nearest neighbours are fetched per recall (see Trace)."""
_CHUNK = 64
_SLACK = 1e-4  # scores are rounded to 4 places before ranking: keep what could tie after rounding


class VectorStore(Protocol):
    """What the memory's vector store must answer."""

    def nearest(self, vector: Sequence[float], n: int) -> list[tuple[str, float]]:
        """The ``n`` nearest ids with their cosine distances, nearest first."""

    def vectors(self, ids: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """The stored vectors of these ids (absent ids are left out)."""

    def records(self, ids: Sequence[str]) -> dict[str, IncidentRecord]:
        """The stored records of these ids (absent ids are left out)."""


@dataclass(frozen=True)
class Trace:
    """How one recall went: for benchmarks and for tests of the bound."""

    nearest: int
    outside_bound: int
    fetched: int
    capped: bool


def exact_recall(
    store: VectorStore,
    columns: Columns,
    vector: Sequence[float],
    query: RecallQuery,
    *,
    k: int,
    n: int,
    now: datetime,
) -> tuple[list[Candidate], Trace]:
    """Candidates that hold the top ``k`` by hybrid score (rank them with ``rank_candidates``)."""
    given = query.given()
    static = metadata_scores({f: columns.matching(f, v) for f, v in given.items()}, columns.started_ts, now)
    static[~columns.alive] = -np.inf
    nearest = store.nearest(vector, n)
    distance = dict(nearest)
    scores = _scores(store, columns, static, distance, query, now)
    outside = (0, 0, False)
    if nearest and len(nearest) == n:  # fewer than n: nothing lies outside them
        far = _similarity(max(d for _, d in nearest))
        outside = _fetch_outside(store, columns, static, far, vector, k, distance, scores)
    trace = Trace(len(nearest), *outside)
    keep = _contenders(scores, k)
    records = store.records(keep)
    return [Candidate(id=i, distance=distance[i], record=records[i]) for i in keep if i in records], trace


def _fetch_outside(
    store: VectorStore,
    columns: Columns,
    static: npt.NDArray[np.float64],
    far: float,
    vector: Sequence[float],
    k: int,
    distance: dict[str, float],
    scores: dict[str, float],
) -> tuple[int, int, bool]:
    """Fetch the vectors of unseen incidents whose bound beats the k-th score, best bound first.

    Adds them to ``distance`` and ``scores``; returns (how many could win, how many were fetched,
    whether :data:`FETCH_CAP` stopped it before the bound did).
    """
    kth = _kth(scores, k)
    possible = static + far > kth - _SLACK
    seen = [columns.position[i] for i in distance if i in columns.position]
    possible[seen] = False
    rows = np.flatnonzero(possible)
    rows = rows[np.argsort(-static[rows], kind="stable")]
    q = np.asarray(vector, np.float32)
    q_norm = float(np.linalg.norm(q)) or 1.0
    fetched = 0
    while fetched < len(rows) and fetched < FETCH_CAP:
        if static[rows[fetched]] + far <= _kth(scores, k) - _SLACK:
            break
        chunk = [columns.ids[r] for r in rows[fetched : fetched + _CHUNK]]
        for i, v in store.vectors(chunk).items():
            d = 1.0 - float(np.dot(q, v)) / (q_norm * (float(np.linalg.norm(v)) or 1.0))
            distance[i] = d
            scores[i] = _similarity(d) + float(static[columns.position[i]])
        fetched += len(chunk)
    capped = fetched < len(rows) and static[rows[fetched]] + far > _kth(scores, k) - _SLACK
    return len(rows), fetched, bool(capped)


def _scores(
    store: VectorStore,
    columns: Columns,
    static: npt.NDArray[np.float64],
    distance: dict[str, float],
    query: RecallQuery,
    now: datetime,
) -> dict[str, float]:
    """Scores of the nearest ids; an id the index does not know yet is scored from its record."""
    scores = {
        i: _similarity(d) + float(static[columns.position[i]])
        for i, d in distance.items()
        if i in columns.position and columns.alive[columns.position[i]]
    }
    unknown = [i for i in distance if i not in scores]
    for i, record in store.records(unknown).items():
        scores[i] = score_candidate(Candidate(i, distance[i], record), query, now).score
    return scores


def _contenders(scores: dict[str, float], k: int) -> list[str]:
    """Ids that can be in the top k: the k best and anything within rounding of the k-th."""
    kth = _kth(scores, k)
    return [i for i, s in scores.items() if s >= kth - _SLACK]


def _kth(scores: dict[str, float], k: int) -> float:
    if len(scores) < k:
        return -np.inf
    return float(np.partition(np.fromiter(scores.values(), np.float64), len(scores) - k)[len(scores) - k])


def _similarity(distance: float) -> float:
    return min(1.0, max(0.0, 1.0 - distance))
