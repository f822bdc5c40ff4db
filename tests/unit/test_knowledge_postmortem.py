"""Postmortems render every section from the record, and say so when data is missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from knowledge.postmortem import render_postmortem
from knowledge.records import ActionOutcome, Evidence, IncidentRecord, TimelineEvent

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _record() -> IncidentRecord:
    return IncidentRecord(
        id="inc-42",
        title="ingest-worker crash-looping after POOL_SIZE change",
        started_at=T0,
        detected_at=T0 + timedelta(seconds=45),
        mitigated_at=T0 + timedelta(minutes=4, seconds=10),
        resolved_at=T0 + timedelta(minutes=9),
        service="ingest-worker",
        namespace="market-predictor",
        alertname="KubePodCrashLooping",
        fault_class="crashloop_config",
        symptoms=["ingest-worker pods in CrashLoopBackOff"],
        evidence=[
            Evidence(
                tool="prometheus_query",
                args={"query": "increase(kube_pod_container_status_restarts_total[5m]) > 0"},
                summary="3 pods restarted 12 times in 5m",
            )
        ],
        root_cause="POOL_SIZE set to 0 in ingest-worker-config",
        actions=[
            ActionOutcome(
                tool="k8s_rollout_restart",
                args={"deployment": "ingest-worker"},
                outcome="rejected",
                at=T0 + timedelta(minutes=2),
                note="config still wrong",
            ),
            ActionOutcome(
                tool="k8s_patch_configmap",
                args={"name": "ingest-worker-config", "key": "POOL_SIZE", "value": "8"},
                target="ConfigMap/market-predictor/ingest-worker-config",
                outcome="fixed",
                approved_by="alice",
                at=T0 + timedelta(minutes=3),
            ),
        ],
        timeline=[TimelineEvent(at=T0 + timedelta(seconds=45), event="alert received by the agent")],
        signature="alert=KubePodCrashLooping|findings=config_changed,crash_loop|service=ingest-worker",
    )


def test_postmortem_has_every_section_with_the_facts() -> None:
    md = render_postmortem(_record())
    for heading in (
        "## Summary",
        "## Impact and timings",
        "## Timeline",
        "## Evidence",
        "## Root cause",
        "## Actions and approvals",
        "## Follow-ups",
    ):
        assert heading in md
    assert "increase(kube_pod_container_status_restarts_total[5m]) > 0" in md  # the query that found it
    assert "| 0m45s | 4m10s |" in md  # time to detect, time to mitigate
    assert "alice" in md and "rejected" in md and "config still wrong" in md
    assert "POOL_SIZE set to 0" in md


def test_postmortem_of_an_unfinished_incident_says_what_is_missing() -> None:
    r = IncidentRecord(id="inc-1", title="unknown", started_at=T0, status="unresolved")
    md = render_postmortem(r)
    assert "_No change was made._" in md and "_Not determined._" in md and "not mitigated" in md
    assert "Establish the root cause" in md
