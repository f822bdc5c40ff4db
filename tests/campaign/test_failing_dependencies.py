"""Failing dependencies in the middle of a run: the kube API answering 500 or 429 or timing out on
the apply (a loopback proxy in front of the stand-in), Loki too slow, Prometheus down, the LLM
endpoint failing half-way. The agent says what failed, keeps what it has, never half-applies, and a
timeout between dry run and apply never applies the change twice."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from fakes.campaign_out import full_runs, record
from fakes.fault_proxy import FaultProxy
from fakes.hostile_world import STAGING, hostile_runner, snapshot
from fakes.openai_server import FakeOpenAI, call, error, reply

from agent.approvals import ApprovalDecision

pytestmark = pytest.mark.timeout(120)

ROLLBACK = {"deployment": "predictor", "namespace": STAGING}  # staging is auto: no human in the loop
APPLY = r"/namespaces/market-predictor-staging/deployments/predictor(?!.*dryRun)"


def image(sim) -> str:
    return sim.store.get("deployments", STAGING, "predictor")["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]


def _run(tmp_path, script, proxy_rules, approve=True, **settings):
    with FakeOpenAI(script, default=reply("Root cause: unknown.")) as llm:
        proxy_box: dict[str, FaultProxy] = {}

        def front(url: str) -> str:
            proxy = FaultProxy(url).__enter__()
            for rule in proxy_rules:
                proxy.fail(**rule)
            proxy_box["p"] = proxy
            return proxy.url

        with hostile_runner(tmp_path, 1, llm, front=front, **settings) as (runner, sim, _):
            before_image = image(sim)
            before = snapshot(sim.store)
            out = runner.investigate("why is predictor failing in staging?", namespace=STAGING)
            for _ in range(4):  # alice approves whatever is asked (the dependency is under test)
                if out.status != "awaiting_approval" or not approve:
                    break
                req = out.approvals[0]
                decision = ApprovalDecision(approval_id=req["id"], decision="approve", approver="alice")
                out = runner.resume(req["id"], decision)
            applied = runner.deps.audit.rows(kind="action_applied")
            result = {
                "out": out,
                "applied": applied,
                "before_image": before_image,
                "after_image": image(sim),
                "changed": [k for k in before if before[k] != snapshot(sim.store).get(k)],
                "proxy": proxy_box["p"],
                "requests": llm.requests,
            }
        proxy_box["p"].__exit__()
    return result


@pytest.mark.parametrize("status", [500, 429] if full_runs() else [500])  # 429 takes the same path
def test_kube_api_error_on_the_apply_changes_nothing_and_says_so(tmp_path, status):
    r = _run(
        tmp_path,
        [reply(tool_calls=[call("k8s_rollback", ROLLBACK)])],
        [{"method": "PUT", "path": APPLY, "status": status}],
    )
    out = r["out"]
    assert any(m == "PUT" and code == status for m, _, code in r["proxy"].seen)  # the fault was hit
    assert r["applied"] == [] and r["changed"] == [] and r["after_image"] == r["before_image"]
    told = json.dumps(r["requests"][-1]["messages"][-1])
    assert "not applied: applying failed" in told and str(status) in told
    assert out.status == "mitigation_failed" and out.actions[0]["status"] == "failed"
    record("dependency", {"fault": f"kube API {status} on apply", "survived": True, "status": out.status})


def test_a_timeout_after_the_apply_reached_the_cluster_never_applies_twice(tmp_path):
    """The PATCH lands but its answer comes after the client's timeout; the model then asks again
    (same change in other words): the rollback must not run a second time (it would flip back)."""
    r = _run(
        tmp_path,
        [
            reply(tool_calls=[call("k8s_rollback", ROLLBACK)]),
            reply(tool_calls=[call("k8s_rollback", {**ROLLBACK, "context": None})]),
            reply(tool_calls=[call("k8s_rollback", {**ROLLBACK, "to_revision": 0})]),
        ],
        [{"method": "PUT", "path": APPLY, "delay_s": 2.5, "forward": True, "times": 1}],
        http_timeout_s=1,
    )
    out = r["out"]
    writes = [(p, code) for m, p, code in r["proxy"].seen if m in ("PUT", "PATCH") and "dryRun" not in p]
    assert [code for _, code in writes if 200 <= code < 300] == [200], writes  # accepted once, never again
    assert r["after_image"] != r["before_image"]  # the one apply did land
    # ... and the audit says so (it used to say "applying failed: conflict" with no action_applied row)
    [row] = r["applied"]
    assert row.data["tool"] == "k8s_rollback" and "answer was lost" in row.data["result"]
    assert row.data["effect"]["diff"]  # the first dry run's diff and undo are kept
    assert out.actions[0]["status"] == "applied"
    assert [a["status"] for a in out.actions[1:]] in (["noop", "failed"], [])
    record(
        "dependency",
        {"fault": "kube API timeout after the apply landed", "survived": True, "status": out.status},
    )


class SlowServer:
    """Accepts connections and answers nothing for ``delay_s`` (Loki under load)."""

    def __init__(self, delay_s: float) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.delay_s = delay_s
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)  # held open, never answered within the client's timeout

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def test_slow_loki_and_dead_prometheus_are_named_and_the_run_goes_on(tmp_path):
    loki = SlowServer(10)
    try:
        r = _run(
            tmp_path,
            [
                reply(
                    tool_calls=[
                        call("loki_query", {"query": '{namespace="market-predictor-staging"}', "minutes": 5}),
                        call("prometheus_query", {"query": "up"}),
                        call("k8s_get", {"kind": "deployment", "name": "predictor", "namespace": STAGING}),
                    ]
                ),
                reply("Root cause: unknown; logs and metrics were unavailable."),
            ],
            [],
            loki_url=loki.url,
            http_timeout_s=1,
        )
    finally:
        loki.close()
    tools = [m for m in r["requests"][1]["messages"] if m["role"] == "tool"]
    assert len(tools) == 3
    loki_msg, prom_msg, kube_msg = (t["content"] for t in tools)
    assert loki_msg.startswith("[error]") and "loki" in loki_msg.lower()
    assert prom_msg.startswith("[error]") and "prometheus" in prom_msg.lower()
    assert kube_msg.startswith("[ok]")  # what it has, it keeps
    assert r["out"].status == "no_action_needed" and r["changed"] == []
    record(
        "dependency",
        {"fault": "Loki slow (no answer in the timeout)", "survived": True, "status": r["out"].status},
    )
    record("dependency", {"fault": "Prometheus down", "survived": True, "status": r["out"].status})


def test_llm_endpoint_failing_after_a_proposal_leaves_the_cluster_alone(tmp_path):
    r = _run(
        tmp_path,
        [
            reply(
                tool_calls=[
                    call(
                        "k8s_scale",
                        {"deployment": "predictor", "namespace": "market-predictor", "replicas": 4},
                    )
                ]
            ),
            error(503, "overloaded"),
        ],
        [],
        approve=False,
    )
    out = r["out"]
    # production is approve mode: the run pauses for a human, the endpoint is not even needed yet
    assert out.status == "awaiting_approval" and r["changed"] == [] and r["applied"] == []
    record("dependency", {"fault": "LLM endpoint failing half-way", "survived": True, "status": out.status})
