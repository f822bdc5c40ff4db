"""`serve` SIGKILLed at every node boundary of a run, restarted each time, loses and repeats nothing.

A real `devops-agent serve` takes the sandbox's Alertmanager notifications for a bad deploy; the
policy makes the rollback wait for a human, who approves it over the HTTP API. Failpoints
(:mod:`agent.failpoints`) kill the process the first time any run reaches each point: as a node
starts (its predecessor's writes are checkpointed) and as it ends (its side effects made, its
writes not yet checkpointed). The test restarts `serve` after every kill. In the end:

- every point on the path fired, and each kill was followed by a restart;
- exactly one ``action_applied`` per approved action, and no approval lost or left pending;
- no alert group was opened as two incidents at once;
- every run finished with a status, and the fault is healed.

In CI one run carries every point (a kill at each of ~22 boundaries); ``make campaign`` also runs
one fault per point, so each boundary is met by a run that was killed there only.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.campaign_out import full_runs, record
from fakes.serve_proc import Serve, free_port
from sandbox_fixture import Sandbox

from agent import failpoints
from agent.audit import AuditLog
from evals.harness import firing_alerts

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(1500)]

TOKEN = "kill-test-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
POLICY = """\
clusters:
  - context: "*"
    namespaces: [{match: market-predictor, autonomy: approve}]
guardrails: {cooldown_s: 0, max_actions_per_hour: 100}
"""
NODES = (
    "intake",
    "recall",
    "triage",
    "reason",
    "tools",
    "guard",
    "approve",
    "act",
    "verify",
    "report",
    "learn",
)
FINAL = {"resolved", "mitigation_failed", "no_action_needed", "escalated", "aborted", "closed", "folded"}

Start = Callable[[str], Serve]


@pytest.fixture
def start_serve(sandbox: Sandbox, tmp_path: Path) -> Iterator[Start]:
    started: list[tuple[Serve, Callable[[], None]]] = []

    def start(points: str) -> Serve:
        sandbox.reset()
        sandbox.wait_until(
            lambda: not firing_alerts(sandbox.prometheus_url), 240, "earlier alerts to resolve", 3
        )
        (tmp_path / "policy.yaml").write_text(POLICY)
        env = {
            **os.environ,
            **sandbox.env(),
            "DEVOPS_AGENT_DATA_DIR": str(tmp_path / "data"),
            "DEVOPS_AGENT_POLICY_FILE": str(tmp_path / "policy.yaml"),
            "DEVOPS_AGENT_API_TOKEN": TOKEN,
            "DEVOPS_AGENT_VERIFY_TIMEOUT_S": "150",
            "DEVOPS_AGENT_VERIFY_INTERVAL_S": "5",
            "DEVOPS_AGENT_FOLLOW_UP_DELAY_S": "5",
            failpoints.ENV_POINTS: points,
            failpoints.ENV_DIR: str(tmp_path / "failpoints"),
        }
        env.pop("DEVOPS_AGENT_LLM_BASE_URL", None)
        env.pop("OPENAI_BASE_URL", None)
        s = Serve(env, free_port(), tmp_path / "serve.log")
        s.start()
        started.append((s, sandbox.forward_alerts_to(f"{s.url}/webhook/alertmanager")))
        return s

    yield start
    for s, stop_forwarding in started:
        stop_forwarding()
        s.kill()
    sandbox.reset()


def _get(serve: Serve, path: str) -> Any:
    return httpx.get(f"{serve.url}{path}", headers=HEADERS, timeout=5).json()


def _drive(sandbox: Sandbox, serve: Serve, audit: AuditLog, timeout: float = 900) -> dict[str, Any]:
    """Restart `serve` whenever a failpoint killed it, approve what waits, until every run has
    finished with the fault healed. Returns what happened."""
    fault = sandbox.inject("bad-deploy", "predictor")
    kills: list[int] = []
    approved: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = serve.dead()
        if code is not None:
            kills.append(code)
            serve.start()
            continue
        try:
            for req in _get(serve, "/api/approvals?status=pending"):
                r = httpx.post(
                    f"{serve.url}/api/approvals/{req['id']}/approve",
                    headers=HEADERS,
                    json={"approver": "oncall"},
                    timeout=10,
                )
                if r.status_code == 202:
                    approved.append(req["id"])
            incidents = _get(serve, "/api/incidents?limit=100")
        except (httpx.HTTPError, ValueError):
            continue  # killed while answering: the next turn restarts it
        applied = audit.rows(kind="action_applied")
        if applied and incidents and all(i["status"] in FINAL for i in incidents):
            ok, _ = fault.check_end_state(sandbox.api_client(), sandbox.prometheus_url)
            if ok:
                return {"kills": kills, "approved": approved, "incidents": incidents, "applied": applied}
        time.sleep(1)
    raise AssertionError(
        f"the runs did not finish: kills {kills}, approved {approved}, log: {serve.log.read_text()[-3000:]}"
    )


def _check(
    sandbox: Sandbox, serve: Serve, audit: AuditLog, points: str, expect: set[str], out: dict[str, Any]
):
    fired = {p.name for p in (Path(serve.env[failpoints.ENV_DIR])).iterdir()}
    assert expect <= fired, f"points never reached: {sorted(expect - fired)}"
    assert len(out["kills"]) == len(fired), (
        out["kills"],
        sorted(fired),
    )  # every hit killed, every kill restarted
    assert all(code == -9 for code in out["kills"]), out["kills"]
    per_approval = Counter(r.data.get("approval_id") for r in out["applied"])
    assert out["approved"], "nothing was approved"
    assert {a: per_approval.get(a, 0) for a in out["approved"]} == {a: 1 for a in out["approved"]}, (
        per_approval
    )
    assert set(per_approval) <= set(out["approved"]), per_approval  # nothing applied without an approval
    assert _get(serve, "/api/approvals?status=pending") == []
    by_group: dict[str, list[dict[str, Any]]] = {}
    for inc in sorted(out["incidents"], key=lambda i: i["created_at"]):
        by_group.setdefault(inc["group_key"], []).append(inc)
    for group, incs in by_group.items():
        for earlier, later in itertools.pairwise(incs):
            assert earlier["closed_at"] and earlier["closed_at"] <= later["created_at"], (group, incs)
    assert audit.verify().ok  # the hash chain survived every kill
    record(
        "kill",
        {
            "points": points,
            "kills": len(out["kills"]),
            "applied": len(out["applied"]),
            "approved": len(out["approved"]),
        },
    )


def test_killed_at_every_node_boundary_the_run_finishes_once(
    sandbox: Sandbox, start_serve: Start, tmp_path: Path
) -> None:
    points = "before:*,after:*"
    serve = start_serve(points)
    audit = AuditLog(tmp_path / "data" / "audit.sqlite")
    out = _drive(sandbox, serve, audit)
    _check(sandbox, serve, audit, points, {f"{w}-{n}" for n in NODES for w in failpoints.WHEN}, out)


@pytest.mark.skipif(not full_runs(), reason="one fault per point: in the full campaign (make campaign)")
@pytest.mark.parametrize("when", failpoints.WHEN)
@pytest.mark.parametrize("node", NODES)
def test_killed_at_one_node_boundary_the_run_finishes_once(
    sandbox: Sandbox, start_serve: Start, tmp_path: Path, node: str, when: str
) -> None:
    points = f"{when}:{node}"
    serve = start_serve(points)
    audit = AuditLog(tmp_path / "data" / "audit.sqlite")
    out = _drive(sandbox, serve, audit)
    _check(sandbox, serve, audit, points, {f"{when}-{node}"}, out)
