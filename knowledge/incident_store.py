"""The incidents collection as the rest of ``knowledge`` sees it (no ``chromadb`` import here).

What an incident's Chroma metadata holds and how it turns back into a record, the collection as a
:class:`knowledge.exact_recall.VectorStore`, and the recall that uses Chroma alone: the nearest n,
then a metadata-filtered query when an incident outside them could still win. That one is used
against a Chroma server, where a local side index would miss other writers' incidents.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.recall_index import Row
from knowledge.records import IncidentRecord, PastIncident
from knowledge.scoring import Candidate, RecallQuery, rank_candidates, unseen_score_bound


class MemoryStoreError(RuntimeError):
    """Memory cannot be opened, read or written; the message says why and what to do."""


def filtered_recall(
    collection: Any, location: str, vector: list[float], query: RecallQuery, k: int, now: datetime
) -> list[PastIncident]:
    """Recall through Chroma alone: the nearest n, then a metadata-filtered query if needed."""
    total = int(collection.count())
    if total == 0:
        return []
    n = min(total, max(40, k * 10))
    nearest = _query(collection, location, vector, n, None)
    candidates = dict(nearest)
    ranked = rank_candidates(list(candidates.values()), query, now=now)
    # An incident outside the nearest n can still win on metadata: fetch those too (a filtered,
    # slower query), unless the k-th score already beats anything an unseen incident could reach.
    if query.given() and len(nearest) == n < total:
        bound = unseen_score_bound(nearest, query)
        if len(ranked) < k or ranked[k - 1].score < bound:
            for c in _query(collection, location, vector, n, query.where()).values():
                candidates.setdefault(c.id, c)
            ranked = rank_candidates(list(candidates.values()), query, now=now)
    return ranked


def _query(
    collection: Any, location: str, vector: list[float], n: int, where: dict[str, Any] | None
) -> dict[str, Candidate]:
    try:
        res = collection.query(
            query_embeddings=[vector], n_results=n, where=where, include=["metadatas", "distances"]
        )
    except Exception as exc:  # Chroma raises when a filter matches nothing on some versions
        if where is not None:
            return {}
        raise MemoryStoreError(f"querying memory at {location} failed: {exc}") from exc
    ids = res["ids"][0]
    metas = (res.get("metadatas") or [[]])[0]
    dists = (res.get("distances") or [[]])[0]
    return {
        i: Candidate(id=i, distance=float(d), record=record_from(m))
        for i, m, d in zip(ids, metas, dists, strict=True)
    }


def incident_metadata(r: IncidentRecord) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "started_at": r.started_at.isoformat(),
        "started_ts": r.started_at.timestamp(),
        "status": r.status,
        "record_json": r.model_dump_json(),
    }
    for key in ("service", "namespace", "alertname", "fault_class", "cluster", "signature"):
        value = getattr(r, key)
        if value:
            meta[key] = value
    return meta


def index_row(r: IncidentRecord) -> Row:
    started = r.started_at if r.started_at.tzinfo else r.started_at.replace(tzinfo=UTC)
    return (r.id, r.service, r.namespace, r.alertname, r.fault_class, started.timestamp())


class ChromaVectors:
    """The incidents collection as :class:`knowledge.exact_recall.VectorStore`."""

    def __init__(self, collection: Any, location: str) -> None:
        self._col = collection
        self._location = location

    def nearest(self, vector: Sequence[float], n: int) -> list[tuple[str, float]]:
        try:
            res = self._col.query(query_embeddings=[list(vector)], n_results=n, include=["distances"])
        except Exception as exc:
            raise MemoryStoreError(f"querying memory at {self._location} failed: {exc}") from exc
        return list(zip(res["ids"][0], map(float, (res.get("distances") or [[]])[0]), strict=True))

    def vectors(self, ids: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        if not ids:
            return {}
        got = self._col.get(ids=list(ids), include=["embeddings"])
        embeddings = got.get("embeddings")
        if embeddings is None:
            return {}
        return {i: np.asarray(e, np.float32) for i, e in zip(got["ids"], embeddings, strict=True)}

    def records(self, ids: Sequence[str]) -> dict[str, IncidentRecord]:
        if not ids:
            return {}
        got = self._col.get(ids=list(ids), include=["metadatas"])
        return {i: record_from(m) for i, m in zip(got["ids"], got.get("metadatas") or [], strict=True)}


def record_from(meta: Any) -> IncidentRecord:
    return IncidentRecord.model_validate_json(str(meta["record_json"]))
