"""Incident memory in Chroma: remember incidents, recall similar ones, index runbooks.

The only module that imports ``chromadb``. ``PersistentClient`` in ``DATA_DIR/memory`` by default;
``HttpClient`` when a Chroma server URL is given, so many agents can share one memory.

Recall with a data dir keeps a side index of the boosted metadata (:mod:`knowledge.recall_index`)
and ranks exactly without Chroma's slow metadata filter (:mod:`knowledge.exact_recall`). Against a
server, whose other writers a local index would not see, it uses the filtered Chroma query instead.

Vectors always come from our :class:`~knowledge.embeddings.Embedder` and are passed explicitly:
collections are created without an embedding function, so Chroma's default model (a download) is
never used. The embedder's identity is stored in each collection's metadata; opening a memory with
another embedder raises :class:`EmbedderMismatchError` until ``devops-agent knowledge reindex``.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings

from knowledge.embeddings import Embedder, EmbeddingError
from knowledge.exact_recall import Trace, exact_recall
from knowledge.heap import scrub_heap
from knowledge.incident_store import (
    ChromaVectors,
    filtered_recall,
    incident_metadata,
    index_row,
    record_from,
)
from knowledge.incident_store import (
    MemoryStoreError as MemoryStoreError,
)
from knowledge.memory_io import read_export, write_export
from knowledge.recall_index import FILE_NAME, RecallIndex
from knowledge.records import IncidentRecord, MemoryStats, PastIncident, RunbookHit
from knowledge.runbooks import Runbook
from knowledge.scoring import RecallQuery, rank_candidates

log = logging.getLogger(__name__)

INCIDENTS = "incidents"
RUNBOOKS = "runbooks"
SCHEMA_VERSION = 1
_BATCH = 2000
_PAGE = 1000


class EmbedderMismatchError(RuntimeError):
    """The memory was built with another embedder than the one settings ask for."""


def _client(data_dir: Path | None, chroma_url: str | None) -> tuple[Any, str]:
    settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url)
        if not url.hostname:
            raise MemoryStoreError(
                f"chroma URL {chroma_url!r} has no host; expected e.g. http://127.0.0.1:8000"
            )
        port = url.port or (443 if url.scheme == "https" else 8000)
        client = chromadb.HttpClient(
            host=url.hostname, port=port, ssl=url.scheme == "https", settings=settings
        )
        return client, chroma_url
    if data_dir is None:
        raise MemoryStoreError(
            "memory needs a data dir or a Chroma URL (DEVOPS_AGENT_DATA_DIR / DEVOPS_AGENT_CHROMA_URL)"
        )
    path = data_dir / "memory"
    path.mkdir(parents=True, exist_ok=True)
    scrub_heap()  # the HNSW index writes its whole buffer, unused slots too (knowledge/heap.py)
    return chromadb.PersistentClient(path=str(path), settings=settings), str(path)


class IncidentMemory:
    """Incidents and runbooks in two Chroma collections, embedded with one embedder."""

    def __init__(
        self,
        client: Any,
        embedder: Embedder,
        location: str,
        *,
        check_embedder: bool = True,
        index: RecallIndex | None = None,
    ) -> None:
        self._client = client
        self.embedder = embedder
        self.location = location
        self._incidents = self._collection(INCIDENTS, check_embedder)
        self._runbooks = self._collection(RUNBOOKS, check_embedder)
        self._index = index
        self._index_checked = False
        self.last_trace: Trace | None = None
        """How the last indexed recall went (None after a filtered one); benchmarks read it."""

    @classmethod
    def open(
        cls,
        data_dir: Path | None,
        chroma_url: str | None,
        embedder: Embedder,
        *,
        check_embedder: bool = True,
        side_index: bool = True,
    ) -> IncidentMemory:
        """Open (or create) the memory. ``check_embedder=False`` is for :meth:`reindex` only.

        ``side_index=False`` recalls through Chroma's filtered query even with a data dir, as
        against a server (benchmarks compare the two).
        """
        client, location = _client(data_dir, chroma_url)
        index = RecallIndex(Path(location) / FILE_NAME) if side_index and not chroma_url else None
        return cls(client, embedder, location, check_embedder=check_embedder, index=index)

    # --- collections -------------------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        return {"embedder": self.embedder.identity, "dims": self.embedder.dims, "schema": SCHEMA_VERSION}

    def _collection(self, name: str, check: bool) -> Any:
        col = self._client.get_or_create_collection(
            name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata=self._metadata(),
        )
        stored = (col.metadata or {}).get("embedder")
        if stored == self.embedder.identity:
            return col
        if stored is None or col.count() == 0:  # empty or pre-metadata: adopt the current embedder
            col.modify(metadata=self._metadata())
            return col
        if check:
            raise EmbedderMismatchError(
                f"memory at {self.location} was built with {stored}; settings ask for {self.embedder.identity}; "
                "run `devops-agent knowledge reindex` to rebuild it with the new embedder "
                "(or set DEVOPS_AGENT_EMBEDDING back)"
            )
        return col

    # --- incidents ---------------------------------------------------------------------------
    def remember(self, record: IncidentRecord) -> None:
        """Store (or replace) one incident record."""
        self.remember_many([record])

    def remember_many(self, records: Sequence[IncidentRecord], *, batch: int = _BATCH) -> int:
        """Store records in batches (imports, benchmarks); returns how many were written."""
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch]
            texts = [r.search_text() for r in chunk]
            self._incidents.upsert(
                ids=[r.id for r in chunk],
                embeddings=self._embed(texts),
                documents=texts,
                metadatas=[incident_metadata(r) for r in chunk],
            )
            if self._index is not None:
                self._index.upsert([index_row(r) for r in chunk], mirrors=str(self._incidents.id))
        return len(records)

    def get(self, incident_id: str) -> IncidentRecord | None:
        """The stored record, or None."""
        got = self._incidents.get(ids=[incident_id], include=["metadatas"])
        metas = got.get("metadatas") or []
        return record_from(metas[0]) if metas else None

    def forget(self, incident_id: str) -> None:
        """Delete one record (no error if absent)."""
        self._incidents.delete(ids=[incident_id])
        if self._index is not None:
            self._index.delete([incident_id])

    def records(self) -> Iterator[IncidentRecord]:
        """Every stored record, paged."""
        yield from (record_from(m) for m in self._metadatas())

    def _metadatas(self) -> Iterator[Any]:
        offset = 0
        while True:
            metas = (
                self._incidents.get(include=["metadatas"], limit=_PAGE, offset=offset).get("metadatas") or []
            )
            yield from metas
            if len(metas) < _PAGE:
                return
            offset += _PAGE

    def count(self) -> int:
        return int(self._incidents.count())

    def recall(
        self,
        text: str,
        *,
        service: str | None = None,
        namespace: str | None = None,
        alertname: str | None = None,
        fault_class: str | None = None,
        k: int = 3,
        now: datetime | None = None,
        min_score: float = 0.15,
    ) -> list[PastIncident]:
        """Past incidents most like this one: vector similarity + metadata boosts + recency."""
        if k <= 0:
            return []
        query = RecallQuery(
            service=service, namespace=namespace, alertname=alertname, fault_class=fault_class
        )
        when = now or datetime.now(UTC)
        index = self._ready_index()
        if index is not None:
            columns = index.columns()
            total = int(columns.alive.sum())
            if total == 0:
                return []
            candidates, self.last_trace = exact_recall(
                ChromaVectors(self._incidents, self.location),
                columns,
                self._embed([text])[0],
                query,
                k=k,
                n=min(total, max(40, k * 10)),
                now=when,
            )
            ranked = rank_candidates(candidates, query, now=when)
        else:
            self.last_trace = None
            ranked = filtered_recall(self._incidents, self.location, self._embed([text])[0], query, k, when)
        return [p for p in ranked if p.score >= min_score][:k]

    def _ready_index(self) -> RecallIndex | None:
        """The side index, rebuilt from Chroma once per process if it does not mirror it."""
        if self._index is None or self._index_checked:
            return self._index
        collection = str(self._incidents.id)
        if not self._index.matches(collection, self.count()):
            log.warning("memory at %s: rebuilding the recall index from Chroma", self.location)
            self._index.replace_all([index_row(r) for r in self.records()], mirrors=collection)
        self._index_checked = True
        return self._index

    # --- runbooks ----------------------------------------------------------------------------
    def index_runbooks(self, runbooks: Sequence[Runbook]) -> int:
        """Make the runbook index hold exactly these runbooks (only changed ones are re-embedded).

        Cheap when nothing changed, so callers may run it at every start; returns the count indexed.
        """
        got = self._runbooks.get(include=["metadatas"])
        digests = {
            i: (m or {}).get("digest") for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
        }
        stale = set(digests) - {rb.id for rb in runbooks}
        if stale:
            self._runbooks.delete(ids=sorted(stale))
        texts = {rb.id: rb.search_text() for rb in runbooks}
        changed = [rb for rb in runbooks if digests.get(rb.id) != _digest(texts[rb.id])]
        if changed:
            self._runbooks.upsert(
                ids=[rb.id for rb in changed],
                embeddings=self._embed([texts[rb.id] for rb in changed]),
                documents=[texts[rb.id] for rb in changed],
                metadatas=[
                    {"title": rb.title, "fault_class": rb.fault_class, "digest": _digest(texts[rb.id])}
                    for rb in changed
                ],
            )
        return len(runbooks)

    def search_runbooks(self, text: str, k: int = 3) -> list[RunbookHit]:
        """Runbooks whose text is most like ``text`` (for the LLM to read)."""
        total = int(self._runbooks.count())
        if total == 0 or k <= 0:
            return []
        res = self._runbooks.query(
            query_embeddings=self._embed([text]),
            n_results=min(k, total),
            include=["metadatas", "documents", "distances"],
        )
        return [
            RunbookHit(
                id=i,
                title=str(m.get("title", "")),
                fault_class=str(m.get("fault_class", "")),
                similarity=max(0.0, 1.0 - float(d)),
                document=doc,
            )
            for i, m, d, doc in zip(
                res["ids"][0], res["metadatas"][0], res["distances"][0], res["documents"][0], strict=True
            )
        ]

    # --- maintenance -------------------------------------------------------------------------
    def stats(self) -> MemoryStats:
        """Counts by fault class and service, the embedder, the time span."""
        by_fault: Counter[str] = Counter()
        by_service: Counter[str] = Counter()
        starts: list[datetime] = []
        for m in self._metadatas():
            by_fault[str(m.get("fault_class", "(unknown)"))] += 1
            by_service[str(m.get("service", "(unknown)"))] += 1
            starts.append(datetime.fromisoformat(str(m["started_at"])))
        return MemoryStats(
            location=self.location,
            embedder=self.embedder.identity,
            incidents=self.count(),
            runbooks=int(self._runbooks.count()),
            by_fault_class=dict(by_fault.most_common()),
            by_service=dict(by_service.most_common()),
            oldest=min(starts) if starts else None,
            newest=max(starts) if starts else None,
        )

    def reindex(self) -> tuple[int, int]:
        """Re-embed every incident and runbook from the stored documents with the current embedder."""
        records = list(self.records())
        rb = self._runbooks.get(include=["documents", "metadatas"])
        for name in (INCIDENTS, RUNBOOKS):
            self._client.delete_collection(name)
        self._incidents = self._collection(INCIDENTS, True)
        self._runbooks = self._collection(RUNBOOKS, True)
        if self._index is not None:
            self._index.replace_all([], mirrors=str(self._incidents.id))
        self.remember_many(records)
        if rb["ids"]:
            self._runbooks.upsert(
                ids=rb["ids"],
                embeddings=self._embed(rb["documents"]),
                documents=rb["documents"],
                metadatas=rb["metadatas"],
            )
        return len(records), len(rb["ids"])

    def export_jsonl(self, path: Path) -> int:
        """Write every incident record as one JSON line (a header line first); returns the count."""
        return write_export(path, self.records(), self.embedder.identity, SCHEMA_VERSION)

    def import_jsonl(self, path: Path) -> int:
        """Load records written by :meth:`export_jsonl` (re-embedded with this memory's embedder)."""
        return self.remember_many(read_export(path))

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self.embedder.embed(texts)
        if vectors and len(vectors[0]) != self.embedder.dims:
            raise EmbeddingError(
                f"{self.embedder.identity} returned {len(vectors[0])}-dim vectors, expected {self.embedder.dims}"
            )
        return vectors


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_onnx_minilm(
    cache_dir: Path | None = None, *, allow_download: bool = True
) -> Callable[[list[str]], Any]:
    """Chroma's all-MiniLM-L6-v2 ONNX model as a batch function; downloads it once if allowed.

    Offline and not cached, it raises :class:`EmbeddingError` naming the cache path and how to fill it.
    """
    from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2

    class _Model(ONNXMiniLM_L6_V2):
        DOWNLOAD_PATH = cache_dir or ONNXMiniLM_L6_V2.DOWNLOAD_PATH

    model_file = Path(_Model.DOWNLOAD_PATH) / _Model.EXTRACTED_FOLDER_NAME / "model.onnx"
    hint = (
        f"the MiniLM ONNX model is not cached at {model_file.parent}. Pre-download it on a machine with network "
        f"(`python -c \"from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2 as M; M()(['x'])\"`) and "
        f"copy {_Model.DOWNLOAD_PATH} here, or set DEVOPS_AGENT_EMBEDDING=hashing"
    )
    if not model_file.exists() and not allow_download:
        raise EmbeddingError(hint)
    model = _Model()
    try:
        model(["warm-up"])  # downloads when missing; fails fast offline
    except Exception as exc:
        raise EmbeddingError(f"{hint} ({type(exc).__name__}: {exc})") from exc
    return model
