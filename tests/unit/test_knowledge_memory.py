"""Incident memory: recall among distractors, embedder identity, export/import, reindex, runbook search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from knowledge.embeddings import HashingEmbedder
from knowledge.memory import EmbedderMismatchError, IncidentMemory, MemoryStoreError
from knowledge.records import ActionOutcome, Evidence, IncidentRecord
from knowledge.runbooks import load_runbooks
from knowledge.synthetic import synthetic_incidents

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _target() -> IncidentRecord:
    started = NOW - timedelta(days=20)
    return IncidentRecord(
        id="inc-target",
        title="predictor cannot authenticate to feature-store after secret rotation",
        started_at=started,
        detected_at=started + timedelta(seconds=40),
        mitigated_at=started + timedelta(minutes=6),
        service="predictor",
        namespace="market-predictor",
        alertname="UpstreamConnectionErrors",
        fault_class="bad_secret",
        symptoms=[
            "predictor upstream feature-store result auth_failed",
            'feature-store log: password authentication failed for user "features"',
        ],
        evidence=[
            Evidence(
                tool="loki_query",
                args={"query": '{service="feature-store"} |= "password authentication failed"'},
                summary="password authentication failed for user features, 240 lines in 5m",
            )
        ],
        root_cause="FEATURE_STORE_PASSWORD in predictor was rotated without updating feature-store",
        actions=[
            ActionOutcome(tool="k8s_rollout_restart", args={"deployment": "predictor"}, outcome="no_effect"),
            ActionOutcome(
                tool="k8s_rollback", args={"deployment": "predictor"}, outcome="fixed", approved_by="alice"
            ),
        ],
    )


@pytest.fixture
def memory(tmp_path: Path) -> IncidentMemory:
    return IncidentMemory.open(tmp_path, None, HashingEmbedder(1024))


def test_recall_finds_the_right_incident_among_200_distractors(memory: IncidentMemory) -> None:
    memory.remember_many([*synthetic_incidents(200, seed=3, now=NOW), _target()])
    hits = memory.recall(
        "predictor requests to feature-store fail: password authentication failed (auth_failed)",
        service="predictor",
        alertname="UpstreamConnectionErrors",
        k=3,
        now=NOW,
    )
    assert hits[0].id == "inc-target"
    assert {"service", "alertname"} <= set(hits[0].matched)
    assert "k8s_rollback" in hits[0].compact() and "fixed" in hits[0].compact()


def test_metadata_boost_prefers_the_same_service_and_alert(memory: IncidentMemory) -> None:
    base = _target()
    other = base.model_copy(
        update={"id": "inc-other", "service": "ingest-worker", "alertname": "ServiceHighErrorRate"}
    )
    memory.remember_many([other, base])
    hits = memory.recall(
        base.search_text(), service="predictor", alertname="UpstreamConnectionErrors", now=NOW
    )
    assert [h.id for h in hits[:2]] == ["inc-target", "inc-other"]
    hits = memory.recall(
        base.search_text(), service="ingest-worker", alertname="ServiceHighErrorRate", now=NOW
    )
    assert hits[0].id == "inc-other"


def test_recency_breaks_ties_between_identical_incidents(memory: IncidentMemory) -> None:
    old = _target().model_copy(update={"id": "inc-old", "started_at": NOW - timedelta(days=300)})
    new = _target().model_copy(update={"id": "inc-new", "started_at": NOW - timedelta(days=2)})
    memory.remember_many([old, new])
    hits = memory.recall(_target().search_text(), now=NOW)
    assert [h.id for h in hits] == ["inc-new", "inc-old"]
    assert hits[0].score > hits[1].score


def test_compact_output_of_the_top_three_fits_800_tokens(memory: IncidentMemory) -> None:
    long_cause = "the config was wrong " * 80
    records = [_target().model_copy(update={"id": f"inc-{i}", "root_cause": long_cause}) for i in range(3)]
    memory.remember_many(records)
    text = "\n".join(h.compact() for h in memory.recall(_target().search_text(), now=NOW))
    assert text.count("[inc-") == 3
    assert len(text) / 4 <= 800


def test_get_returns_the_stored_record_and_none_when_absent(memory: IncidentMemory) -> None:
    record = _target()
    memory.remember(record)
    assert memory.get("inc-target") == record
    assert memory.get("nope") is None


def test_opening_with_another_embedder_is_a_clear_error(tmp_path: Path) -> None:
    IncidentMemory.open(tmp_path, None, HashingEmbedder(1024)).remember(_target())
    with pytest.raises(EmbedderMismatchError) as err:
        IncidentMemory.open(tmp_path, None, HashingEmbedder(512))
    message = str(err.value)
    assert "hashing-1024" in message and "hashing-512" in message and "knowledge reindex" in message


def test_reindex_rebuilds_with_the_new_embedder(tmp_path: Path) -> None:
    IncidentMemory.open(tmp_path, None, HashingEmbedder(1024)).remember_many(synthetic_incidents(30, now=NOW))
    stale = IncidentMemory.open(tmp_path, None, HashingEmbedder(512), check_embedder=False)
    assert stale.reindex() == (30, 0)
    fresh = IncidentMemory.open(tmp_path, None, HashingEmbedder(512))
    assert fresh.stats().embedder == "hashing-512"
    assert fresh.count() == 30
    first = next(iter(fresh.records()))
    assert fresh.recall(first.search_text(), now=NOW)[0].id == first.id


def test_export_then_import_into_an_empty_store_gives_the_same_results(tmp_path: Path) -> None:
    source = IncidentMemory.open(tmp_path / "a", None, HashingEmbedder(1024))
    source.remember_many([*synthetic_incidents(120, seed=11, now=NOW), _target()])
    dump = tmp_path / "memory.jsonl"
    assert source.export_jsonl(dump) == 121
    target = IncidentMemory.open(tmp_path / "b", None, HashingEmbedder(1024))
    assert target.import_jsonl(dump) == 121
    queries = ["OOMKilled memory grows on predictor", "queue depth rising deadlock", "no endpoints selector"]
    for q in queries:
        before = [(h.id, h.score) for h in source.recall(q, service="predictor", k=5, now=NOW)]
        after = [(h.id, h.score) for h in target.recall(q, service="predictor", k=5, now=NOW)]
        assert before == after and before


def test_importing_a_file_that_is_not_an_export_names_the_line(
    tmp_path: Path, memory: IncidentMemory
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "devops-agent-memory"}\n{"kind": "incident", "record": {"id": 1}}\n')
    with pytest.raises(MemoryStoreError, match=r"bad.jsonl:2"):
        memory.import_jsonl(bad)


def test_stats_count_by_fault_class_and_service(memory: IncidentMemory) -> None:
    memory.remember_many(synthetic_incidents(50, now=NOW))
    stats = memory.stats()
    assert stats.incidents == 50
    assert sum(stats.by_fault_class.values()) == 50 and sum(stats.by_service.values()) == 50
    assert stats.oldest is not None and stats.newest is not None and stats.oldest <= stats.newest


def test_runbooks_are_indexed_and_searchable(memory: IncidentMemory) -> None:
    runbooks = load_runbooks()
    assert memory.index_runbooks(runbooks) == len(runbooks)
    hits = memory.search_runbooks("queue depth keeps growing and the consumer is deadlocked", k=2)
    assert hits[0].id == "queue-stalled-consumer"
    assert memory.index_runbooks(runbooks[:2]) == 2
    assert memory.stats().runbooks == 2


def test_empty_memory_recalls_nothing(memory: IncidentMemory) -> None:
    assert memory.recall("anything at all") == []
    assert memory.search_runbooks("anything") == []


def test_a_metadata_match_outside_the_nearest_neighbours_is_still_found(memory: IncidentMemory) -> None:
    day_ago = NOW - timedelta(days=1)
    distractors = [
        IncidentRecord(
            id=f"d{i:03d}",
            title=f"disk pressure evicted pods unrelated{i} thing{i}",
            started_at=day_ago,
            service="cache",
            alertname="Other",
            fault_class="other",
        )
        for i in range(80)
    ]
    target = IncidentRecord(
        id="target",
        title="disk filled up on node",
        started_at=day_ago,
        service="predictor",
        alertname="KubeNodeDiskPressure",
        fault_class="disk_pressure",
    )
    memory.remember_many([*distractors, target])
    query = "disk pressure evicted pods on worker nodes"
    assert "target" not in [h.id for h in memory.recall(query, now=NOW, k=40)]  # text alone misses it
    hits = memory.recall(
        query, service="predictor", alertname="KubeNodeDiskPressure", fault_class="disk_pressure", now=NOW
    )
    assert hits[0].id == "target"


def test_runbook_index_follows_edits_and_removals(memory: IncidentMemory) -> None:
    runbooks = load_runbooks()
    memory.index_runbooks(runbooks)
    renamed = runbooks[0].model_copy(update={"title": "Zebra giraffe okapi incident"})
    memory.index_runbooks([renamed, *runbooks[1:3]])
    hits = memory.search_runbooks("zebra giraffe okapi", k=1)
    assert hits[0].id == renamed.id and hits[0].title == "Zebra giraffe okapi incident"
    assert memory.stats().runbooks == 3
