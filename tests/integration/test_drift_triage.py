"""Drift on the failing path is evidence in triage (``drifted_from_desired``), and "sync to desired"
is a remediation candidate ranked with the others (after runbooks and reverts, before escalation)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from drift_world import NS, Platform, plat_fixture  # noqa: F401

from agent.remediation import rank_candidates
from tools.analysis import triage

pytestmark = pytest.mark.timeout(90)


def _triage(p: Platform, service: str) -> list[dict[str, Any]]:
    onset = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = triage.invoke(p.deps, {"namespace": NS, "service": service, "onset": onset})
    assert result.status == "ok", result.text
    findings: list[dict[str, Any]] = result.data["findings"]
    return findings


def test_a_drifted_object_on_the_failing_path_is_a_finding_and_a_sync_candidate(plat: Platform) -> None:
    plat.edit(
        f"/api/v1/namespaces/{NS}/services/api-gateway",
        {"spec": {"ports": [{"port": 80, "targetPort": 9999}]}},
    )
    plat.edit(
        f"/api/v1/namespaces/{NS}/configmaps/ingest-worker-config", {"data": {"POOL_SIZE": "1"}}
    )  # off the path
    findings = _triage(plat, "api-gateway")
    drifted = [f for f in findings if f["kind"] == "drifted_from_desired"]
    assert [f["target"] for f in drifted] == [f"Service/{NS}/api-gateway"]
    assert drifted[0]["data"]["fields"] == ["/spec/ports/0/targetPort"]
    assert drifted[0]["data"]["file"] == f"{NS}/service-api-gateway.yaml"

    ranked = rank_candidates([], {"findings": findings, "actions": []}, "sig", None)  # type: ignore[typeddict-item]
    sync = [c for c in ranked if c["source"] == "sync"]
    assert [(c["tool"], c["args"]) for c in sync] == [
        ("desired_sync", {"kind": "Service", "name": "api-gateway", "namespace": NS})
    ]
    assert ranked[-1]["source"] == "escalate"
    assert ranked.index(sync[0]) > max(
        (ranked.index(c) for c in ranked if c["source"] == "revert"), default=-1
    )


def test_a_drifted_secret_is_evidence_but_never_a_sync_candidate(plat: Platform) -> None:
    plat.edit(
        f"/api/v1/namespaces/{NS}/secrets/feature-store-credentials",
        {"data": {"password": base64.b64encode(b"rotated").decode()}},
    )
    findings = _triage(plat, "feature-store")
    (drifted,) = [f for f in findings if f["kind"] == "drifted_from_desired"]
    assert (
        drifted["target"] == f"Secret/{NS}/feature-store-credentials" and drifted["data"]["syncable"] is False
    )
    assert "rotated" not in str(drifted)
    ranked = rank_candidates([], {"findings": findings, "actions": []}, "sig", None)  # type: ignore[typeddict-item]
    assert not [c for c in ranked if c["source"] == "sync"]


def test_without_a_desired_state_triage_checks_no_drift(plat: Platform) -> None:
    plat.edit(
        f"/api/v1/namespaces/{NS}/services/api-gateway",
        {"spec": {"ports": [{"port": 80, "targetPort": 9999}]}},
    )
    plat.deps.desired_state = None
    assert not [f for f in _triage(plat, "api-gateway") if f["kind"] == "drifted_from_desired"]
