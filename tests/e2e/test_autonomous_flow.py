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


def _rollback_request(agent: AgentServer, since: float) -> dict[str, Any] | None:
    """The pending request to roll predictor back, from an incident opened after ``since``.

    One fault raises several alert groups; serve investigates the first and correlates the others,
    so whichever incident is investigated is the one that asks.
    """
    for req in _api(agent, "GET", "/api/approvals", params={"status": "pending"}).json():
        if req["tool"] != "k8s_rollback" or req["args"].get("deployment") != "predictor":
            continue
        inc = _api(agent, "GET", f"/api/incidents/{req['incident_id']}").json()
        if datetime.fromisoformat(inc["created_at"]).timestamp() >= since:
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

    request = sandbox.wait_until(
        lambda: _rollback_request(agent, injected_at), 300, "an incident to ask for the predictor rollback", 3
    )
    iid = request["incident_id"]
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
    # closed_at is stamped when the resolved notification arrives; status becomes "closed" once a
    # worker has processed it (after the run that was verifying the rollback ends)
    closed = sandbox.wait_until(
        lambda: (inc := _api(agent, "GET", f"/api/incidents/{iid}").json())["status"] == "closed" and inc,
        420,
        f"Alertmanager's resolved notification to close {iid}",
        3,
    )
    assert closed["closed_at"] >= closed["created_at"]
    still_open = _api(agent, "GET", "/api/incidents", params={"open_only": "true"}).json()
    assert iid not in [i["id"] for i in still_open]
    assert len(_applied_rollbacks(agent)) == 1, "the approved rollback ran more than once"

    memory = agent.runner.deps.memory
    assert memory is not None, agent.runner.deps.knowledge.note
    found = memory.recall(f"{closed['alertname']}: predictor 5xx after a bad rollout, rolled back", k=5)
    assert iid in [p.id for p in found]

    postmortem = _api(agent, "GET", f"/api/incidents/{iid}/postmortem")
    assert postmortem.status_code == 200, postmortem.text
    assert "k8s_rollback" in postmortem.text and "predictor" in postmortem.text
