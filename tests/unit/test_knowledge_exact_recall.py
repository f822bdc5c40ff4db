"""Recall through the side index: the same top k as ranking every stored incident, kept in step."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from knowledge.embeddings import HashingEmbedder
from knowledge.memory import IncidentMemory
from knowledge.recall_index import FILE_NAME, RecallIndex
from knowledge.records import IncidentRecord, PastIncident
from knowledge.scoring import Candidate, RecallQuery, metadata_scores, rank_candidates, score_candidate
from knowledge.synthetic import NAMESPACES, PATTERNS, SERVICES, synthetic_incidents

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EMBEDDER = HashingEmbedder(1024)


def _exhaustive(records: list[IncidentRecord], text: str, query: RecallQuery, k: int) -> list[PastIncident]:
    """Every stored incident scored and ranked: what recall must agree with."""
    vectors = np.asarray(EMBEDDER.embed([r.search_text() for r in records]), np.float32)
    q = np.asarray(EMBEDDER.embed([text])[0], np.float32)
    distances = 1.0 - vectors @ q  # hashing vectors are unit length
    candidates = [Candidate(r.id, float(d), r) for r, d in zip(records, distances, strict=True)]
    return [p for p in rank_candidates(candidates, query, now=NOW) if p.score >= 0.15][:k]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[IncidentMemory, list[IncidentRecord]]:
    records = synthetic_incidents(1500, seed=5, now=NOW)
    memory = IncidentMemory.open(tmp_path_factory.mktemp("seeded"), None, EMBEDDER)
    memory.remember_many(records)
    return memory, records


def _probes() -> list[tuple[str, RecallQuery]]:
    rng = random.Random(17)
    probes = []
    for p in synthetic_incidents(25, seed=99, now=NOW):
        fields = {
            "service": rng.choice([p.service, rng.choice(SERVICES), None]),
            "alertname": rng.choice([p.alertname, rng.choice(PATTERNS).alertname, None]),
            "fault_class": rng.choice([p.fault_class, None, None]),
            "namespace": rng.choice([*NAMESPACES, None]),
        }
        probes.append((rng.choice([p.symptoms[0], p.root_cause, p.title]), RecallQuery(**fields)))
    return probes


@pytest.mark.parametrize(("text", "query"), _probes())
def test_recall_gives_the_same_top_five_as_ranking_every_incident(
    seeded: tuple[IncidentMemory, list[IncidentRecord]], text: str, query: RecallQuery
) -> None:
    memory, records = seeded
    got = memory.recall(text, **query.given(), k=5, now=NOW)
    want = _exhaustive(records, text, query, 5)
    assert [(p.id, p.matched) for p in got] == [(p.id, p.matched) for p in want]
    assert [p.score for p in got] == pytest.approx([p.score for p in want], abs=2e-4)  # float32 in Chroma
    assert memory.last_trace is not None and memory.last_trace.nearest == 50


def test_chroma_alone_misses_what_the_index_finds(
    seeded: tuple[IncidentMemory, list[IncidentRecord]], tmp_path: Path
) -> None:
    """The old, filtered path on the same store differs from the exhaustive ranking on some probes:
    many incidents are equally similar and only recency tells them apart."""
    memory, records = seeded
    chroma_only = IncidentMemory.open(Path(memory.location).parent, None, EMBEDDER, side_index=False)
    differ = 0
    for text, query in _probes():
        want = [p.id for p in _exhaustive(records, text, query, 5)]
        differ += [p.id for p in chroma_only.recall(text, **query.given(), k=5, now=NOW)] != want
        assert [p.id for p in memory.recall(text, **query.given(), k=5, now=NOW)] == want
    assert differ > 0


def _fresh(i: int, service: str = "predictor", fault_class: str = "disk_pressure") -> IncidentRecord:
    return IncidentRecord(
        id=f"fresh-{i}",
        title="totally different words here",
        started_at=NOW - timedelta(hours=1),
        service=service,
        alertname="KubeNodeDiskPressure",
        fault_class=fault_class,
    )


def _disk_query(memory: IncidentMemory) -> list[str]:
    hits = memory.recall(
        "5xx ratio after rollout",
        service="predictor",
        alertname="KubeNodeDiskPressure",
        fault_class="disk_pressure",
        now=NOW,
    )
    return [h.id for h in hits]


def test_an_incident_written_by_another_process_is_recalled(tmp_path: Path) -> None:
    reader = IncidentMemory.open(tmp_path, None, EMBEDDER)
    reader.remember_many(synthetic_incidents(300, seed=1, now=NOW))
    assert "fresh-1" not in _disk_query(reader)  # its columns are loaded now
    writer = IncidentMemory.open(tmp_path, None, EMBEDDER)  # its own index connection
    writer.remember(_fresh(1))
    assert _disk_query(reader)[0] == "fresh-1"
    writer.forget("fresh-1")
    assert "fresh-1" not in _disk_query(reader)


def test_own_writes_and_forgets_show_at_once(tmp_path: Path) -> None:
    memory = IncidentMemory.open(tmp_path, None, EMBEDDER)
    memory.remember_many(synthetic_incidents(300, seed=2, now=NOW))
    assert "fresh-2" not in _disk_query(memory)
    memory.remember(_fresh(2, service="cache", fault_class="other"))
    assert "fresh-2" not in _disk_query(memory)
    memory.remember(_fresh(2))  # replaced: now it matches on service and fault class too
    assert _disk_query(memory)[0] == "fresh-2"
    memory.forget("fresh-2")
    assert "fresh-2" not in _disk_query(memory)


def test_a_memory_from_before_the_index_gets_one_on_first_recall(tmp_path: Path) -> None:
    old = IncidentMemory.open(tmp_path, None, EMBEDDER, side_index=False)
    old.remember_many([*synthetic_incidents(200, seed=4, now=NOW), _fresh(3)])
    index_file = tmp_path / "memory" / FILE_NAME
    assert not index_file.exists()
    memory = IncidentMemory.open(tmp_path, None, EMBEDDER)
    assert _disk_query(memory)[0] == "fresh-3"
    assert RecallIndex(index_file).count() == 201


def test_reindex_keeps_the_index_in_step(tmp_path: Path) -> None:
    memory = IncidentMemory.open(tmp_path, None, EMBEDDER)
    memory.remember_many([*synthetic_incidents(120, seed=6, now=NOW), _fresh(4)])
    assert _disk_query(memory)[0] == "fresh-4"
    stale = IncidentMemory.open(tmp_path, None, HashingEmbedder(512), check_embedder=False)
    assert stale.reindex() == (121, 0)
    fresh = IncidentMemory.open(tmp_path, None, HashingEmbedder(512))
    assert _disk_query(fresh)[0] == "fresh-4"
    assert RecallIndex(tmp_path / "memory" / FILE_NAME).count() == 121


def test_vectorised_metadata_scores_match_the_scalar_scoring() -> None:
    records = synthetic_incidents(200, seed=8, now=NOW)
    query = RecallQuery(service="cache", alertname="CacheDown", namespace="market-predictor")
    masks = {f: np.array([getattr(r, f) == v for r in records]) for f, v in query.given().items()}
    started = np.array([r.started_at.timestamp() for r in records])
    got = metadata_scores(masks, started, NOW)
    want = [score_candidate(Candidate(r.id, 1.0, r), query, NOW).score for r in records]  # similarity 0
    assert np.allclose(got, want, atol=1e-4)


def test_recalls_in_other_threads_survive_concurrent_writes(tmp_path: Path) -> None:
    memory = IncidentMemory.open(tmp_path, None, EMBEDDER)
    memory.remember_many(synthetic_incidents(200, seed=9, now=NOW))
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                _disk_query(memory)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(30):
            memory.remember(_fresh(100 + i))
            if i % 7 == 0:
                memory.forget(f"fresh-{100 + i}")
    finally:
        done.set()
        for t in threads:
            t.join(30)
    assert errors == []
    assert _disk_query(memory)[0].startswith("fresh-1")
    assert "fresh-100" not in [h.id for h in memory.recall("totally different words", k=40, now=NOW)]
