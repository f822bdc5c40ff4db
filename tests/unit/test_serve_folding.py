"""One fault, one incident: alert groups on the same failing path fold into the incident that ended
without a fix (escalated), instead of each starting a run that would page again; groups off the path
are investigated on their own; the folded alerts are listed in the parent's report and hand-off, and
counted in /metrics."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient
from test_serve_webhook import TOKEN, ScriptedRunner, alert, payload, wait_for

from agent.audit import AuditLog
from agent.server.app import create_app
from agent.server.service import Service
from agent.settings import Settings
from tools.base import ToolResult

PATH = ["Service/predictor", "Deployment/predictor", "Node/node-1", "Deployment/api-gateway"]


class EscalatingRunner(ScriptedRunner):
    """The first investigation escalates with a failing path; later ones end as no_action_needed."""

    def investigate(self, **kw: Any) -> dict[str, Any]:
        out = super().investigate(**kw)
        if len(self.investigations) == 1:
            out |= {
                "status": "escalated",
                "path": PATH,
                "handoff": {"why": ["alert still fires"], "folded_alerts": []},
            }
        return out


def _service(tmp_path: Path) -> tuple[Service, EscalatingRunner, TestClient]:
    settings = Settings(data_dir=tmp_path, api_token=TOKEN, follow_up_delay_s=0)  # type: ignore[arg-type]
    runner = EscalatingRunner(block=threading.Event())
    service = Service(settings, runner)
    service.start()
    return service, runner, TestClient(create_app(service))


def _post(client: TestClient, group: str, fp: str, **labels: str) -> dict[str, Any]:
    return client.post(
        "/webhook/alertmanager", json=payload(group=group, alerts=[alert(fp=fp, **labels)])
    ).json()


def test_groups_on_the_escalated_incidents_path_fold_and_the_others_are_investigated(tmp_path: Path) -> None:
    service, runner, client = _service(tmp_path)
    first = _post(client, "no-endpoints", "a", alertname="ServiceNoEndpoints")
    wait_for(lambda: runner.investigations)
    caller = _post(client, "gateway-5xx", "b", alertname="ServiceHighErrorRate", service="api-gateway")
    burn = _post(client, "burn", "c", alertname="ApiErrorBudgetBurn", service="predictor")
    other = _post(client, "cache", "d", alertname="CacheDown", service="cache")
    assert {caller["parent_id"], burn["parent_id"], other["parent_id"]} == {first["incident_id"]}
    assert runner.block is not None
    runner.block.set()
    wait_for(lambda: len(runner.investigations) == 2 and service.queue.depth() == 0, timeout=20)
    time.sleep(0.5)
    service.stop()

    investigated = [t for t, _ in runner.investigations]
    assert investigated == [first["incident_id"], other["incident_id"]]  # cache is off the path
    for folded in (caller, burn):
        assert (service.queue.incident(folded["incident_id"]) or {})["status"] == "folded"
    parent = service.queue.incident(first["incident_id"]) or {}
    outcome = parent["outcome"]
    assert parent["status"] == "escalated"
    listed = outcome["folded_alerts"]
    assert f"ServiceHighErrorRate ({caller['incident_id']})" in listed
    assert f"ApiErrorBudgetBurn ({burn['incident_id']})" in listed
    assert "## Alerts folded into this incident" in outcome["report"]
    assert outcome["handoff"]["folded_alerts"] == listed
    metrics = client.get("/metrics").text
    assert "devops_agent_alert_groups_folded_total 2.0" in metrics
    assert "devops_agent_escalations_total 1.0" in metrics


def test_a_group_arriving_after_the_escalation_folds_at_once(tmp_path: Path) -> None:
    service, runner, client = _service(tmp_path)
    assert runner.block is not None
    runner.block.set()
    first = _post(client, "no-endpoints", "a", alertname="ServiceNoEndpoints")
    wait_for(lambda: (service.queue.incident(first["incident_id"]) or {}).get("status") == "escalated")
    late = _post(client, "late", "e", alertname="KubeDeploymentReplicasMismatch", service="predictor")
    assert late["folded_into"] == first["incident_id"]
    time.sleep(0.5)
    service.stop()
    assert [t for t, _ in runner.investigations] == [first["incident_id"]]
    parent = service.queue.incident(first["incident_id"]) or {}
    assert f"KubeDeploymentReplicasMismatch ({late['incident_id']})" in parent["outcome"]["report"]
    assert "devops_agent_alert_groups_folded_total 1.0" in client.get("/metrics").text


def test_after_a_verified_fix_a_group_still_firing_is_investigated_as_a_follow_up(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_token=TOKEN, follow_up_delay_s=0)  # type: ignore[arg-type]
    runner = ScriptedRunner(block=threading.Event())
    runner.investigate_status = "resolved"
    service = Service(settings, runner)
    service.start()
    client = TestClient(create_app(service))
    first = _post(client, "errors", "a")
    wait_for(lambda: runner.investigations)
    second = _post(client, "burn", "b", alertname="ApiErrorBudgetBurn")
    assert runner.block is not None
    runner.block.set()
    wait_for(lambda: len(runner.investigations) == 2, timeout=20)
    service.stop()
    _, group = runner.investigations[1]
    assert runner.investigations[1][0] == second["incident_id"]
    assert group is not None and group["follows"]["incident"] == first["incident_id"]


class _Triage:
    """The registry's triage tool, answering with the findings it is given."""

    def __init__(self, findings: list[dict[str, Any]]) -> None:
        self.findings = findings
        self.calls: list[dict[str, Any]] = []

    def invoke(self, tool_deps: Any, args: dict[str, Any], dry_run: bool = False) -> ToolResult:
        self.calls.append(args)
        return ToolResult.ok(f"{len(self.findings)} finding(s)", data={"findings": self.findings})


class FixingRunner(ScriptedRunner):
    """Every run ends with a verified fix; triage (outside a run) answers from ``triage``."""

    def __init__(self, tmp_path: Path, findings: list[dict[str, Any]]) -> None:
        super().__init__(block=threading.Event())
        self.investigate_status = "resolved"
        self.triage = _Triage(findings)
        self.deps = SimpleNamespace(
            tools={"triage": self.triage}, tool_deps=None, audit=AuditLog(tmp_path / "audit.sqlite")
        )

    def outcome(self, incident_id: str) -> dict[str, Any] | None:
        return {**(super().outcome(incident_id) or {}), "status": self.investigate_status}


def _fixing(tmp_path: Path, findings: list[dict[str, Any]]) -> tuple[Service, FixingRunner, TestClient]:
    settings = Settings(data_dir=tmp_path, api_token=TOKEN, follow_up_delay_s=0, follow_up_settle_s=600)  # type: ignore[arg-type]
    runner = FixingRunner(tmp_path, findings)
    service = Service(settings, runner)
    service.start()
    return service, runner, TestClient(create_app(service))


def _lagging_after_fix(
    tmp_path: Path, findings: list[dict[str, Any]]
) -> tuple[Service, FixingRunner, str, str]:
    """A fix verified on predictor, then a burn-rate alert on its path still firing."""
    service, runner, client = _fixing(tmp_path, findings)
    first = _post(client, "no-endpoints", "a", alertname="ServiceNoEndpoints", service="predictor")
    assert runner.block is not None
    runner.block.set()
    wait_for(lambda: (service.queue.incident(first["incident_id"]) or {}).get("status") == "resolved")
    late = _post(client, "burn", "b", alertname="ApiErrorBudgetBurn", service="predictor")
    assert late["parent_id"] == first["incident_id"]  # not an incident of its own
    wait_for(lambda: runner.triage.calls or len(runner.investigations) > 1, timeout=20)
    time.sleep(0.5)
    service.stop()
    return service, runner, first["incident_id"], late["incident_id"]


def test_an_alert_lagging_a_verified_fix_folds_into_it_without_a_run(tmp_path: Path) -> None:
    service, runner, parent_id, late_id = _lagging_after_fix(tmp_path, [])
    assert [t for t, _ in runner.investigations] == [parent_id]  # one fault, one run
    assert (service.queue.incident(late_id) or {})["status"] == "folded"
    parent = service.queue.incident(parent_id) or {}
    assert any(late_id in a and "lagging" in a for a in parent["outcome"]["folded_alerts"])
    checks = [r for r in runner.deps.audit.rows(incident_id=late_id) if r.kind == "tool_call"]
    assert [r.data["purpose"] for r in checks] == ["follow-up check"]
    assert not [r for r in runner.deps.audit.rows(incident_id=late_id) if r.kind == "run_started"]
    recheck = [w for w in service.queue.work_items(late_id) if w["state"] == "queued"]
    assert len(recheck) == 1 and recheck[0]["not_before"] > parent["updated_at"]  # looked at again later


def test_an_alert_after_a_fix_while_something_fails_is_investigated(tmp_path: Path) -> None:
    failing = [{"kind": "crash_loop", "severity": "critical", "target": "pod/cache-1", "summary": "restarts"}]
    _service, runner, parent_id, late_id = _lagging_after_fix(tmp_path, failing)
    assert [t for t, _ in runner.investigations] == [parent_id, late_id]
    _, group = runner.investigations[1]
    assert group is not None and "follows" not in group  # something fails: a fault of its own
    assert (_service.queue.incident(late_id) or {}).get("parent_id") is None


def test_the_recheck_after_the_settle_window_is_investigated(tmp_path: Path) -> None:
    service, runner, _parent, late_id = _lagging_after_fix(tmp_path, [])
    with service.queue._tx(immediate=True) as db:  # the settle window has passed
        db.execute("UPDATE work SET not_before = NULL WHERE incident_id = ? AND state = 'queued'", (late_id,))
    again = Service(service.settings, runner)
    again.start()
    wait_for(lambda: len(runner.investigations) == 2, timeout=20)
    again.stop()
    assert runner.investigations[1][0] == late_id
    assert len(runner.triage.calls) == 1  # the re-check is a run, not another fold


def test_a_group_off_the_fixed_path_is_its_own_incident(tmp_path: Path) -> None:
    service, runner, client = _fixing(tmp_path, [])
    first = _post(client, "no-endpoints", "a", alertname="ServiceNoEndpoints", service="predictor")
    assert runner.block is not None
    runner.block.set()
    wait_for(lambda: (service.queue.incident(first["incident_id"]) or {}).get("status") == "resolved")
    service.queue.set_status(first["incident_id"], "resolved", {"status": "resolved", "path": PATH})
    other = _post(client, "cache", "d", alertname="CacheDown", service="cache")
    wait_for(lambda: len(runner.investigations) == 2, timeout=20)
    service.stop()
    assert other["parent_id"] is None
    assert runner.investigations[1][0] == other["incident_id"] and runner.triage.calls == []


def test_a_group_opening_while_the_fix_is_verified_joins_it_even_once_its_alert_resolved(
    tmp_path: Path,
) -> None:
    """Seen in the eval (every node cordoned): the cache's alert resolved as soon as one node was
    uncordoned, while the run was still verifying; the gateway's alert then opened an incident of its
    own, which uncordoned a second node. An incident still at work keeps taking its path's groups."""
    service, runner, client = _fixing(tmp_path, [])
    first = _post(client, "no-endpoints", "a", alertname="ServiceNoEndpoints", service="cache")
    wait_for(lambda: runner.investigations)
    resolved = payload(
        group="no-endpoints",
        alerts=[alert(fp="a", status="resolved", alertname="ServiceNoEndpoints", service="cache")],
    )
    client.post("/webhook/alertmanager", json=resolved)
    assert (service.queue.incident(first["incident_id"]) or {}).get("closed_at")
    gateway = _post(client, "upstream", "b", alertname="UpstreamConnectionErrors", service="api-gateway")
    assert gateway["parent_id"] == first["incident_id"]
    assert runner.block is not None
    runner.block.set()
    wait_for(lambda: runner.triage.calls, timeout=20)  # released after the fix: looked at, not investigated
    time.sleep(0.5)
    service.stop()
    assert [t for t, _ in runner.investigations] == [first["incident_id"]]


def test_a_group_after_the_fixed_incident_closed_is_a_follow_up_of_it(tmp_path: Path) -> None:
    service, runner, client = _fixing(tmp_path, [])
    assert runner.block is not None
    runner.block.set()
    first = _post(client, "no-endpoints", "a", alertname="ServiceNoEndpoints", service="cache")
    wait_for(lambda: (service.queue.incident(first["incident_id"]) or {}).get("status") == "resolved")
    resolved = payload(
        group="no-endpoints",
        alerts=[alert(fp="a", status="resolved", alertname="ServiceNoEndpoints", service="cache")],
    )
    client.post("/webhook/alertmanager", json=resolved)
    wait_for(lambda: (service.queue.incident(first["incident_id"]) or {}).get("status") == "closed")
    late = _post(client, "burn", "b", alertname="ApiErrorBudgetBurn", service="cache")
    assert late["parent_id"] == first["incident_id"]
    wait_for(lambda: runner.triage.calls, timeout=20)
    time.sleep(0.5)
    service.stop()
    assert [t for t, _ in runner.investigations] == [first["incident_id"]]
    assert (service.queue.incident(late["incident_id"]) or {})["status"] == "folded"


def test_a_new_fault_after_a_closed_fix_is_looked_at_at_once_and_takes_the_groups_after_it(
    tmp_path: Path,
) -> None:
    """Seen in the eval: a fault that began minutes after an earlier one was fixed and closed waited
    the follow-up delay, and each of its groups became a follow-up of the old incident with a run of
    its own (seven runs for one fault). Something failing makes it an incident of its own at once, and
    the groups that open while it is investigated correlate to it."""
    failing = [
        {"kind": "hpa_maxed_out", "severity": "warning", "target": "hpa/predictor", "summary": "at max"}
    ]
    settings = Settings(data_dir=tmp_path, api_token=TOKEN, follow_up_delay_s=30)  # type: ignore[arg-type]
    runner = FixingRunner(tmp_path, failing)
    service = Service(settings, runner)
    service.start()
    client = TestClient(create_app(service))
    assert runner.block is not None
    runner.block.set()
    old = _post(client, "no-endpoints", "a", alertname="ServiceNoEndpoints", service="predictor")
    wait_for(lambda: (service.queue.incident(old["incident_id"]) or {}).get("status") == "resolved")
    resolved = payload(
        group="no-endpoints",
        alerts=[alert(fp="a", status="resolved", alertname="ServiceNoEndpoints", service="predictor")],
    )
    client.post("/webhook/alertmanager", json=resolved)
    wait_for(lambda: (service.queue.incident(old["incident_id"]) or {}).get("status") == "closed")
    runner.block.clear()
    new = _post(client, "hpa", "b", alertname="KubeHpaMaxedOut", service="predictor")
    assert new["parent_id"] == old["incident_id"]
    wait_for(lambda: len(runner.investigations) == 2, timeout=10)  # no follow-up delay: the old one closed
    assert runner.investigations[1][0] == new["incident_id"]
    assert (service.queue.incident(new["incident_id"]) or {}).get("parent_id") is None  # its own now
    later = _post(client, "latency", "c", alertname="ServiceHighLatency", service="api-gateway")
    assert later["parent_id"] == new["incident_id"]
    assert (service.queue.incident(later["incident_id"]) or {})["status"] == "correlated"
    runner.block.set()
    service.stop()
