"""The autonomous flow for one fault, through the real alert path, with a human approving over HTTP.

bad-deploy on predictor → the sandbox's real Prometheus fires → its real Alertmanager posts to
``serve`` (in this process) → the investigation proposes the rollback and waits → the approval is
given with ``POST /api/approvals/{id}/approve`` and the bearer token (202: a worker continues the
run; a second approval is refused) → the rollback runs once → the
fault's end-state check passes → the alert resolves → Alertmanager's resolved notification closes
the incident → the incident is in memory and its postmortem is served.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_fixture import Sandbox

from evals.env import AgentServer, agent_settings, start_agent
from evals.harness import firing_alerts
from sandbox.faults.checks import pod_images

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]

TOKEN = "e2e-approver-token"
NAMESPACE = "market-predictor"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def agent(sandbox: Sandbox, tmp_path: Path) -> Iterator[AgentServer]:
    """``serve`` in this process, receiving the session sandbox's Alertmanager notifications."""
    sandbox.reset()
    sandbox.wait_until(
        lambda: not firing_alerts(sandbox.prometheus_url), 240, "earlier tests' alerts to resolve", 3
    )
    server = start_agent(agent_settings(sandbox.state, tmp_path / "agent", {"api_token": TOKEN}))
    stop_forwarding = sandbox.forward_alerts_to(server.webhook_url)
    try:
        yield server
    finally:
        stop_forwarding()
        server.close()
        sandbox.reset(wait=False)


def _api(agent: AgentServer, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{agent.url}{path}", headers=AUTH, timeout=60, **kw)


def _predictor_incident(agent: AgentServer, since: float) -> dict[str, Any] | None:
    for inc in _api(agent, "GET", "/api/incidents").json():
        opened = datetime.fromisoformat(inc["created_at"]).timestamp()
        if inc["alertname"] == "ServiceHighErrorRate" and inc["service"] == "predictor" and opened >= since:
            return dict(inc)
    return None


def _pending_rollback(agent: AgentServer, incident_id: str) -> dict[str, Any] | None:
    for req in _api(agent, "GET", "/api/approvals", params={"status": "pending"}).json():
        if req["incident_id"] == incident_id and req["tool"] == "k8s_rollback":
            return dict(req)
    return None


def _applied_rollbacks(agent: AgentServer) -> list[Any]:
    audit = agent.runner.deps.audit
    return [
        r
        for r in audit.rows(kind="action_applied")
        if r.data.get("tool") == "k8s_rollback" and r.data.get("args", {}).get("deployment") == "predictor"
    ]


def test_alert_to_closed_and_remembered_incident(sandbox: Sandbox, agent: AgentServer) -> None:
    api = sandbox.api_client()
    good_images = set(pod_images(api, NAMESPACE, "predictor").values())
    injected_at = time.time()
    fault = sandbox.inject("bad-deploy", "predictor")

    incident = sandbox.wait_until(
        lambda: _predictor_incident(agent, injected_at), 240, "serve to open the predictor incident", 3
    )
    iid = incident["id"]
    request = sandbox.wait_until(
        lambda: _pending_rollback(agent, iid), 180, f"incident {iid} to ask for the rollback", 2
    )
    assert request["args"]["namespace"] == NAMESPACE
    assert _api(agent, "GET", f"/api/incidents/{iid}").json()["status"] == "awaiting_approval"
    assert _applied_rollbacks(agent) == [], "a rollback ran before anyone approved it"

    refused = httpx.post(f"{agent.url}/api/approvals/{request['id']}/approve", json={}, timeout=30)
    assert refused.status_code == 401
    approved = _api(agent, "POST", f"/api/approvals/{request['id']}/approve", json={"approver": "e2e-oncall"})
    assert approved.status_code == 202, approved.text
    assert approved.json()["status"] == "resuming"
    again = _api(agent, "POST", f"/api/approvals/{request['id']}/approve", json={"approver": "someone-else"})
    assert again.status_code == 409, again.text

    applied = sandbox.wait_until(lambda: _applied_rollbacks(agent), 120, "the approved rollback", 2)
    assert [r.data["approval_id"] for r in applied] == [request["id"]]
    detail = sandbox.wait_end_state(fault, timeout=180)
    assert "good images" in detail
    assert set(pod_images(api, NAMESPACE, "predictor").values()) <= good_images

    sandbox.wait_until(
        lambda: (
            not [
                a
                for a in firing_alerts(sandbox.prometheus_url)
                if a["labels"].get("alertname") == "ServiceHighErrorRate"
            ]
        ),
        240,
        "ServiceHighErrorRate to resolve in Prometheus",
        3,
    )
    closed = sandbox.wait_until(
        lambda: (inc := _api(agent, "GET", f"/api/incidents/{iid}").json())["closed_at"] and inc,
        180,
        f"Alertmanager's resolved notification to close {iid}",
        3,
    )
    assert closed["status"] == "closed" and closed["closed_at"] >= closed["created_at"]
    still_open = _api(agent, "GET", "/api/incidents", params={"open_only": "true"}).json()
    assert iid not in [i["id"] for i in still_open]
    assert len(_applied_rollbacks(agent)) == 1, "the approved rollback ran more than once"

    memory = agent.runner.deps.memory
    assert memory is not None, agent.runner.deps.knowledge.note
    found = memory.recall("ServiceHighErrorRate predictor 5xx after a rollout", service="predictor", k=5)
    assert iid in [p.id for p in found]

    postmortem = _api(agent, "GET", f"/api/incidents/{iid}/postmortem")
    assert postmortem.status_code == 200, postmortem.text
    assert "k8s_rollback" in postmortem.text and "predictor" in postmortem.text
