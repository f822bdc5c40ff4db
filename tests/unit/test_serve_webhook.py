"""`serve`'s webhook, queue and API with a scripted runner (the real runner is in tests/e2e)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent.approvals import ApprovalDecision, ApprovalRequest, ApprovalStore
from agent.server.app import create_app
from agent.server.queue import WorkQueue
from agent.server.service import Service
from agent.settings import Settings
from tools.base import Target

TOKEN = "s3cret-token"


class ScriptedRunner:
    """Records what it was asked; returns a fixed outcome."""

    def __init__(self, block: threading.Event | None = None) -> None:
        self.investigations: list[tuple[str | None, dict[str, Any] | None]] = []
        self.resumed: list[ApprovalDecision] = []
        self.block = block
        self.lock = threading.Lock()
        self.investigate_status = "no_action_needed"
        self.resume_block: threading.Event | None = None
        self.resume_error: Exception | None = None

    def investigate(
        self, *, alert: dict[str, Any] | None = None, thread_id: str | None = None, on_event: Any = None
    ) -> dict[str, Any]:
        with self.lock:
            self.investigations.append((thread_id, alert))
        if on_event:
            on_event({"type": "tool_started", "tool": "k8s_get"})
            on_event({"type": "tool_finished", "tool": "k8s_get"})
        if self.block is not None:
            self.block.wait(5)
        return {
            "incident_id": thread_id,
            "status": self.investigate_status,
            "report": f"# report {thread_id}",
        }

    store: ApprovalStore | None = None

    def claim(self, approval_id: str, decision: ApprovalDecision) -> Any:
        assert self.store is not None
        return self.store.decide(decision)

    def resume(
        self, approval_id: str, decision: ApprovalDecision, *, claimed: bool = False, on_event: Any = None
    ) -> dict[str, Any]:
        if not claimed:
            self.claim(approval_id, decision)
        if self.resume_block is not None:
            self.resume_block.wait(10)
        if self.resume_error is not None:
            raise self.resume_error
        if on_event:
            on_event({"type": "action", "tool": "k8s_rollback", "status": "applied"})
        self.resumed.append(decision)
        return {"incident_id": "inc-x", "status": "resolved"}

    def outcome(self, incident_id: str) -> dict[str, Any] | None:
        return {"incident_id": incident_id, "status": "no_action_needed", "report": f"# report {incident_id}"}

    def interrupted(self, thread_id: str) -> bool:
        return False

    def continue_run(self, thread_id: str, *, on_event: Any = None) -> dict[str, Any]:
        raise AssertionError("nothing was interrupted")


def payload(
    group: str = "g1", alerts: list[dict[str, Any]] | None = None, status: str = "firing"
) -> dict[str, Any]:
    alerts = alerts or [alert()]
    return {
        "version": "4",
        "groupKey": group,
        "status": status,
        "receiver": "agent",
        "groupLabels": {"alertname": "KubePodCrashLooping"},
        "commonLabels": alerts[0]["labels"],
        "alerts": alerts,
    }


def alert(fp: str = "fp1", status: str = "firing", **labels: str) -> dict[str, Any]:
    base = {"alertname": "KubePodCrashLooping", "namespace": "market-predictor", "service": "predictor"}
    base.update(labels)
    return {
        "status": status,
        "labels": base,
        "annotations": {"summary": "x"},
        "fingerprint": fp,
        "startsAt": "2026-11-26T10:00:00Z",
    }


@pytest.fixture
def svc(tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path, api_token=TOKEN, max_concurrent_investigations=2)  # type: ignore[arg-type]
    runner = ScriptedRunner()
    service = Service(settings, runner)
    service.start()
    client = TestClient(create_app(service))
    yield service, runner, client
    service.stop()


def wait_for(cond: Any, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_firing_then_resolved_opens_and_closes_one_incident(svc: Any) -> None:
    service, runner, client = svc
    r = client.post("/webhook/alertmanager", json=payload())
    assert r.status_code == 200 and r.json()["opened"]
    inc_id = r.json()["incident_id"]
    r2 = client.post("/webhook/alertmanager", json=payload())
    assert r2.json() == {
        "incident_id": inc_id,
        "opened": False,
        "folded": 1,
        "closing": False,
        "parent_id": None,
        "folded_into": None,
    }
    wait_for(lambda: runner.investigations)
    r3 = client.post(
        "/webhook/alertmanager", json=payload(alerts=[alert(status="resolved")], status="resolved")
    )
    assert r3.json()["closing"]
    wait_for(lambda: (service.queue.incident(inc_id) or {}).get("status") == "closed")
    assert len(runner.investigations) == 1
    assert runner.investigations[0][0] == inc_id


@pytest.mark.parametrize(
    "body,needle",
    [
        ({"version": "4", "groupKey": "g", "status": "firing", "alerts": "nope"}, "alerts"),
        ({"version": "3", "groupKey": "g", "status": "firing", "alerts": [alert()]}, "version"),
        ({"version": "4", "groupKey": "g", "status": "exploded", "alerts": [alert()]}, "status"),
        (
            {
                "version": "4",
                "groupKey": "g",
                "status": "firing",
                "alerts": [{"status": "firing", "labels": {"namespace": "x"}}],
            },
            "alertname",
        ),
        (
            {
                "version": "4",
                "groupKey": "g",
                "status": "firing",
                "alerts": [{"status": "firing", "labels": {"alertname": 5}}],
            },
            "labels",
        ),
        ({"version": "4", "groupKey": "g", "status": "firing", "alerts": []}, "alerts"),
        ([1, 2, 3], "JSON object"),
    ],
)
def test_malformed_payloads_get_400_naming_the_problem(svc: Any, body: Any, needle: str) -> None:
    _, runner, client = svc
    r = client.post("/webhook/alertmanager", json=body)
    assert r.status_code == 400
    assert needle in r.json()["error"]
    assert runner.investigations == []


def test_not_json_and_huge_bodies(svc: Any) -> None:
    _, _, client = svc
    r = client.post(
        "/webhook/alertmanager", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    huge = json.dumps(payload(alerts=[alert(annotation="x" * 10)])).encode() + b" " * (2 * 1024 * 1024)
    r = client.post("/webhook/alertmanager", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413
    # the service still works afterwards
    assert client.post("/webhook/alertmanager", json=payload()).status_code == 200


def test_unknown_fields_are_accepted(svc: Any) -> None:
    _, _, client = svc
    body = payload()
    body["somethingNew"] = {"x": 1}
    body["alerts"][0]["extra"] = True
    assert client.post("/webhook/alertmanager", json=body).status_code == 200


def test_alert_storm_folds_into_incidents_and_loses_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_token=TOKEN, follow_up_delay_s=0)  # type: ignore[arg-type]
    gate = threading.Event()
    runner = ScriptedRunner(block=gate)
    service = Service(settings, runner)
    service.start()
    client = TestClient(create_app(service))
    groups, per_group = 20, 50  # 1,000 alerts: 20 groups x 50 alerts, each alert sent twice (repeats)
    sent = 0
    for rep in range(2):
        for g in range(groups):
            alerts = [alert(fp=f"g{g}-a{i}", pod=f"p{i}") for i in range(rep * 25, rep * 25 + 25)]
            for _ in range(2):
                assert (
                    client.post(
                        "/webhook/alertmanager", json=payload(group=f"group-{g}", alerts=alerts)
                    ).status_code
                    == 200
                )
                sent += len(alerts)
    assert sent == groups * per_group * 2
    gate.set()
    incidents = service.queue.incidents(limit=1000)
    assert len(incidents) == groups
    # one namespace: the first group is investigated, the others wait correlated to it (no racing fixes)
    parents = [i for i in incidents if not i["parent_id"]]
    assert len(parents) == 1
    assert all(i["parent_id"] == parents[0]["id"] for i in incidents if i is not parents[0])
    for inc in incidents:
        assert len(inc["alerts"]) == per_group  # every distinct alert is kept
        assert inc["repeats"] == per_group  # every repeat was folded, none opened a new incident
    # the parent's investigation ends; the correlated incidents still fire, so each is investigated once
    wait_for(lambda: len(runner.investigations) == groups and service.queue.depth() == 0, timeout=60)
    assert len({t for t, _ in runner.investigations}) == groups
    service.stop()


def test_correlated_incident_cured_by_the_fix_is_never_investigated(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_token=TOKEN, follow_up_delay_s=1)  # type: ignore[arg-type]
    gate = threading.Event()
    runner = ScriptedRunner(block=gate)
    service = Service(settings, runner)
    service.start()
    client = TestClient(create_app(service))
    first = client.post("/webhook/alertmanager", json=payload(group="errors", alerts=[alert(fp="a")])).json()
    wait_for(lambda: runner.investigations)
    second = client.post(
        "/webhook/alertmanager", json=payload(group="latency", alerts=[alert(fp="b", alertname="X")])
    ).json()
    assert second["parent_id"] == first["incident_id"]
    gate.set()  # the first investigation fixes it; the second group resolves before its turn
    client.post(
        "/webhook/alertmanager",
        json=payload(
            group="latency", alerts=[alert(fp="b", status="resolved", alertname="X")], status="resolved"
        ),
    )
    wait_for(lambda: (service.queue.incident(second["incident_id"]) or {}).get("status") == "closed")
    time.sleep(2)
    service.stop()
    assert [t for t, _ in runner.investigations] == [first["incident_id"]]


def test_restart_requeues_interrupted_work(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_token=TOKEN)  # type: ignore[arg-type]
    q = WorkQueue(settings.path("serve.sqlite"))
    from agent.server.alerts import parse_payload

    res = q.ingest(parse_payload(payload()))
    item = q.claim()
    assert item is not None  # a worker took it ... and the process died here
    runner = ScriptedRunner()
    service = Service(settings, runner)
    service.start()
    wait_for(lambda: runner.investigations)
    service.stop()
    assert [t for t, _ in runner.investigations] == [res.incident_id]


def test_api_requires_the_bearer_token(svc: Any) -> None:
    _, _, client = svc
    assert client.get("/api/approvals").status_code == 401
    assert client.get("/api/approvals", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/incidents", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.post("/api/approvals/apr-1/approve", json={}).status_code == 401
    ok = client.get("/api/approvals", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json() == []


def test_api_without_configured_token_refuses_everything(tmp_path: Path) -> None:
    service = Service(Settings(data_dir=tmp_path), ScriptedRunner())  # type: ignore[call-arg]
    client = TestClient(create_app(service))
    r = client.get("/api/incidents", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 401 and "DEVOPS_AGENT_API_TOKEN" in r.json()["detail"]


def test_approve_through_api_resumes_the_runner(svc: Any) -> None:
    service, runner, client = svc
    store: ApprovalStore = service.approvals
    runner.store = store
    req = store.add(
        ApprovalRequest.create(
            ttl_s=60,
            incident_id="inc-x",
            tool="k8s_rollback",
            args={},
            target=Target(kind="Deployment", name="p", namespace="n"),
            risk="write",
        )
    )
    h = {"Authorization": f"Bearer {TOKEN}"}
    listed = client.get("/api/approvals", headers=h).json()
    assert [a["id"] for a in listed] == [req.id]
    r = client.post(f"/api/approvals/{req.id}/approve", json={"approver": "alice"}, headers=h)
    assert r.status_code == 202 and r.json()["status"] == "resuming"
    wait_for(lambda: runner.resumed)  # a worker continues the run
    assert runner.resumed[0].approver == "alice"
    # the approved action runs in the resumed run, and /metrics counts it
    assert (
        'devops_agent_actions_total{outcome="applied",tool="k8s_rollback"} 1.0' in client.get("/metrics").text
    )
    again = client.post(f"/api/approvals/{req.id}/approve", json={"approver": "bob"}, headers=h)
    assert again.status_code == 409 and "already approved by alice" in again.json()["detail"]
    assert client.post(f"/api/approvals/{req.id}/reject", json={}, headers=h).status_code == 400
    time.sleep(0.5)
    assert len(runner.resumed) == 1
    assert client.post("/api/approvals/apr-none/approve", json={}, headers=h).status_code == 404


def _request_for(incident_id: str) -> ApprovalRequest:
    return ApprovalRequest.create(
        ttl_s=60,
        incident_id=incident_id,
        tool="k8s_rollback",
        args={},
        target=Target(kind="Deployment", name="p", namespace="n"),
        risk="write",
    )


def test_an_approved_incident_is_acting_until_its_run_ends_and_waits_again_if_the_run_fails(
    svc: Any,
) -> None:
    service, runner, client = svc
    runner.store, runner.investigate_status = service.approvals, "awaiting_approval"
    h = {"Authorization": f"Bearer {TOKEN}"}
    client.post("/webhook/alertmanager", json=payload())
    wait_for(
        lambda: [i["status"] for i in client.get("/api/incidents", headers=h).json()] == ["awaiting_approval"]
    )
    iid = client.get("/api/incidents", headers=h).json()[0]["id"]

    def status() -> str:
        return str(client.get(f"/api/incidents/{iid}", headers=h).json()["status"])

    runner.resume_block = threading.Event()
    first = service.approvals.add(_request_for(iid))
    assert (
        client.post(f"/api/approvals/{first.id}/approve", json={"approver": "a"}, headers=h).status_code
        == 202
    )
    assert status() == "acting"  # set with the claim, before the worker picks the run up
    runner.resume_block.set()
    wait_for(lambda: status() == "resolved")

    runner.resume_block, runner.resume_error = None, RuntimeError("checkpointer unavailable")
    second = service.approvals.add(_request_for(iid))
    service.queue.set_status(iid, "awaiting_approval")
    with pytest.raises(RuntimeError):
        service.resume(second.id, ApprovalDecision(approval_id=second.id, decision="reject", approver="b"))
    assert status() == "awaiting_approval"  # the run did not continue: it is still waiting


def test_health_and_metrics(svc: Any) -> None:
    _, runner, client = svc
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    client.post("/webhook/alertmanager", json=payload())
    wait_for(lambda: runner.investigations)
    wait_for(
        lambda: (
            'devops_agent_investigations_total{outcome="no_action_needed"} 1.0' in client.get("/metrics").text
        )
    )
    text = client.get("/metrics").text
    assert "devops_agent_alerts_received_total" in text and "devops_agent_tool_latency_seconds_bucket" in text
    assert "devops_agent_incidents_open 1.0" in text
