"""The whole LLM path with real tools against the Kubernetes API stand-in, approval from another process."""

from __future__ import annotations

import json
import subprocess

import pytest
from fakes.agent_env import BAD_IMAGE, ENV_PASSWORD, NAMESPACE, agent_env, cli
from fakes.openai_server import call, reply

from agent.audit import AuditLog
from sandbox.platform import FEATURE_STORE_PASSWORD

pytestmark = pytest.mark.timeout(180)


def image_of(store, name: str) -> str:
    return store.get("deployments", NAMESPACE, name)["spec"]["template"]["spec"]["containers"][0]["image"]


def test_rollback_approved_from_a_second_process_runs_exactly_once(tmp_path, cluster, llm):
    store, kubeconfig = cluster
    env = agent_env(tmp_path, kubeconfig, llm)
    before = image_of(store, "predictor")
    assert before == BAD_IMAGE
    llm.add(
        reply(
            tool_calls=[
                call("k8s_get", {"kind": "deployment", "name": "predictor", "namespace": NAMESPACE}),
                call(
                    "k8s_get", {"kind": "secret", "name": "feature-store-credentials", "namespace": NAMESPACE}
                ),
                call("k8s_rollout_history", {"deployment": "predictor", "namespace": NAMESPACE}),
            ]
        ),
        reply(
            "The new predictor image is failing; rolling back.",
            tool_calls=[call("k8s_rollback", {"deployment": "predictor", "namespace": NAMESPACE})],
        ),
        reply("Root cause: predictor image regression; rolled back to the previous revision."),
    )
    first = subprocess.run(
        cli("investigate", "why is the predictor failing?", "--json"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["status"] == "awaiting_approval", out
    [req] = out["approvals"]
    assert req["tool"] == "k8s_rollback" and req["target"]["name"] == "predictor"
    assert image_of(store, "predictor") == before  # nothing changed while waiting

    second = subprocess.run(
        cli("approvals", "approve", req["id"], "--as", "carol"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr
    # The simulation is frozen in this test, so verify sees the symptoms stay: an honest no_effect.
    assert f"approved {req['id']} as carol" in second.stdout and "mitigation_failed" in second.stdout
    assert image_of(store, "predictor") != BAD_IMAGE  # rolled back to the previous revision

    again = subprocess.run(
        cli("approvals", "approve", req["id"], "--as", "carol"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode != 0
    audit = AuditLog(tmp_path / "data" / "audit.sqlite")
    applied = audit.rows(incident_id=out["incident_id"], kind="action_applied")
    assert [(r.idempotency_key, r.actor) for r in applied] == [(req["id"], "carol")]
    assert audit.verify().ok
    [verify] = audit.rows(incident_id=out["incident_id"], kind="verify")
    assert verify.data["outcome"] == "no_effect"

    sent = llm.all_text()
    assert "feature-store-credentials" in sent and "DB_PASSWORD" in sent  # the reads reached the model
    assert FEATURE_STORE_PASSWORD not in sent
    assert ENV_PASSWORD not in sent
    assert len(llm.requests) == 3
