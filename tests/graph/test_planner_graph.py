"""The offline planner drives the graph from a runbook: diagnostics, guard, approval, act, verify."""

from __future__ import annotations

from conftest import POLICY_AUTO, Events

from agent.approvals import ApprovalDecision


def test_planner_resolves_bad_deploy_with_auto_policy(make_runner, cluster):
    runner = make_runner(policy=POLICY_AUTO)
    events = Events()
    out = runner.investigate("checkout is throwing 500s", on_event=events)
    assert out.status == "resolved", out.report
    assert out.service == "checkout" and out.namespace == "shop"
    assert cluster.dep("shop", "checkout").image == "shop/checkout:v1"
    assert cluster.applied == [("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})]
    assert events.tools() == ["k8s_rollout_history", "prometheus_query"]
    assert out.actions[0]["outcome"] == "fixed"
    assert "rollout" in (out.root_cause or "").lower()
    kinds = [r.kind for r in runner.deps.audit.rows(incident_id=out.incident_id)]
    assert kinds.count("action_applied") == 1 and kinds[-1] == "run_finished"


def test_planner_waits_for_approval_then_applies_once(make_runner, cluster):
    runner = make_runner()
    out = runner.investigate("checkout is throwing 500s")
    assert out.status == "awaiting_approval"
    assert cluster.applied == []
    req = out.approvals[0]
    assert req["tool"] == "k8s_rollback" and "image: shop/checkout:v2 -> shop/checkout:v1" in req["diff"]
    decision = ApprovalDecision(approval_id=req["id"], decision="approve", approver="alice")
    done = runner.resume(req["id"], decision)
    assert done.status == "resolved"
    assert cluster.applied == [("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})]
    assert done.actions[0]["approver"] == "alice"


def test_rejection_makes_the_planner_propose_the_next_remediation(make_runner, cluster):
    runner = make_runner()
    out = runner.investigate("checkout is throwing 500s")
    first = out.approvals[0]
    out = runner.resume(
        first["id"],
        ApprovalDecision(approval_id=first["id"], decision="reject", approver="bob", reason="not now"),
    )
    assert out.status == "awaiting_approval"
    assert out.approvals[0]["tool"] == "k8s_scale"
    assert cluster.applied == []


def test_no_runbook_match_reports_without_acting(make_runner, cluster):
    cluster.bad_images.clear()
    runner = make_runner(policy=POLICY_AUTO)
    out = runner.investigate("is cart healthy?")
    assert out.status == "no_action_needed"
    assert cluster.applied == []
    assert "No runbook matches" in out.summary


def test_the_incident_is_remembered_and_the_outcome_counted(make_runner, cluster):
    runner = make_runner(policy=POLICY_AUTO)
    out = runner.investigate("checkout is throwing 500s")
    record = runner.deps.memory.get(out.incident_id)
    assert record is not None, runner.deps.knowledge.note
    assert record.actions[0].outcome == "fixed" and record.actions[0].action_key == "shop-bad-deploy:rollback"
    assert record.status == "resolved" and "rollout" in record.root_cause.lower()
    stats = runner.deps.stats.stats_for(record.signature)
    assert stats["shop-bad-deploy:rollback"].fixed == 1


def test_recall_brings_back_the_past_incident(make_runner, cluster):
    runner = make_runner(policy=POLICY_AUTO)
    first = runner.investigate("checkout is throwing 500s")
    cluster.deployments["checkout"].images.append("shop/checkout:v2")  # the bad image again
    second = runner.investigate("checkout is throwing 500s again")
    recalled = runner.state(second.incident_id)["recalled"]
    assert [r["id"] for r in recalled] == [first.incident_id]
    assert "k8s_rollback" in recalled[0]["summary"]


def test_a_change_that_would_change_nothing_is_not_put_to_a_human(make_runner, cluster):
    cluster.deployments["checkout"].images = ["shop/checkout:v2", "shop/checkout:v2"]  # rollback = same image
    runner = make_runner()
    out = runner.investigate("checkout is throwing 500s")
    first = out.actions[0]
    assert first["tool"] == "k8s_rollback" and first["status"] == "noop" and first["outcome"] == "no_effect"
    assert [a["tool"] for a in out.approvals] == ["k8s_scale"]  # the next remediation waits for a human
    assert cluster.applied == []
    decisions = [
        r.data["decision"] for r in runner.deps.audit.rows(incident_id=out.incident_id, kind="decision")
    ]
    assert decisions == ["noop", "needs_approval"]
