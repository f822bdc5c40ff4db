"""The offline planner drives the graph from a runbook: diagnostics, guard, approval, act, verify."""

from __future__ import annotations

import pytest
from fakes.agent_harness import POLICY_AUTO, Events

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


def test_a_symptom_that_appeared_while_waiting_for_approval_does_not_make_the_fix_look_worse(
    make_runner, cluster
):
    """verify compares with the cluster right before the change, not with the investigation's
    findings from before the wait: a symptom that showed up meanwhile was not caused by the change
    (judged against the old findings it was "worse", and the correct rollback was undone)."""
    runner = make_runner()
    out = runner.investigate("checkout is throwing 500s")
    req = out.approvals[0]
    cluster.extra_findings.append(
        {
            "kind": "crash_loop",
            "target": "Deployment/shop/checkout",
            "severity": "critical",
            "summary": "checkout crash-loops (its database went away while the approval waited)",
            "evidence": [],
            "data": {"deployment": "checkout"},
        }
    )
    done = runner.resume(
        req["id"], ApprovalDecision(approval_id=req["id"], decision="approve", approver="al")
    )
    assert done.actions[0]["outcome"] == "no_effect", done.actions[0]  # the crash loop is still there
    assert cluster.applied == [
        ("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})
    ]  # not undone
    assert cluster.dep("shop", "checkout").image == "shop/checkout:v1"


def test_two_runs_approved_for_the_same_target_change_it_once(make_runner, cluster):
    """Both were guarded before either applied (each waited for a human), so the cooldown is asked
    again right before applying: the second rollback would flip checkout back to the bad image."""
    runner = make_runner(policy="version: 1\ndefault_autonomy: approve\nguardrails: {cooldown_s: 300}\n")
    first = runner.investigate("checkout is throwing 500s", thread_id="inc-first")
    second = runner.investigate("checkout is throwing 500s", thread_id="inc-second")
    assert [o.status for o in (first, second)] == ["awaiting_approval", "awaiting_approval"]
    for out in (first, second):
        req = out.approvals[0]
        runner.resume(req["id"], ApprovalDecision(approval_id=req["id"], decision="approve", approver="al"))
    assert cluster.applied == [("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})]
    assert cluster.dep("shop", "checkout").image == "shop/checkout:v1"
    notes = " ".join(runner.state("inc-second").get("notes", []))
    assert "not applied now: cooldown: k8s_rollback on Deployment shop/checkout" in notes


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
    events = [e.event for e in record.timeline]
    assert events[0].startswith("investigation started") and events[-1] == "run finished: resolved"
    assert any(e.startswith("k8s_rollback applied") for e in events)
    assert any(e.startswith("verify k8s_rollback: fixed") for e in events)
    assert record.detected_at is not None and record.mitigated_at is not None
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
    runner = make_runner(verify_timeout_s=2, verify_interval_s=0.01)
    out = runner.investigate("checkout is throwing 500s")
    first = out.actions[0]
    assert first["tool"] == "k8s_rollback" and first["status"] == "noop" and first["outcome"] == "no_effect"
    assert [a["tool"] for a in out.approvals] == ["k8s_scale"]  # the next remediation waits for a human
    assert cluster.applied == []
    decisions = [
        r.data["decision"] for r in runner.deps.audit.rows(incident_id=out.incident_id, kind="decision")
    ]
    assert decisions == ["noop", "needs_approval"]
    # one look at the signals after a no-op, not the whole verify window waiting for an effect
    assert "after 0 s" in first["verify"], first["verify"]  # not "after 2 s", the whole window


def _reject_first(runner):
    out = runner.investigate("checkout is throwing 500s")
    first = out.approvals[0]
    decision = ApprovalDecision(
        approval_id=first["id"], decision="reject", approver="bob", reason="try scaling"
    )
    return runner.resume(first["id"], decision)


def test_approval_with_edited_arguments_is_guarded_again_and_applied(make_runner, cluster):
    runner = make_runner()
    out = _reject_first(runner)
    req = out.approvals[0]
    assert req["tool"] == "k8s_scale" and req["args"]["replicas"] == 5
    edited = ApprovalDecision(
        approval_id=req["id"], decision="approve", approver="alice", edited_args={"replicas": 4}
    )
    out = runner.resume(req["id"], edited)
    assert ("k8s_scale", {"deployment": "checkout", "replicas": 4}) in cluster.applied
    assert cluster.dep("shop", "checkout").replicas == 4
    scale = out.actions[-1]
    assert scale["args"]["replicas"] == 4 and scale["approver"] == "alice"


def test_edited_arguments_the_policy_forbids_are_denied(make_runner, cluster):
    runner = make_runner()
    out = _reject_first(runner)
    req = out.approvals[0]
    edited = ApprovalDecision(
        approval_id=req["id"], decision="approve", approver="alice", edited_args={"replicas": 50}
    )
    out = runner.resume(req["id"], edited)
    assert cluster.applied == []
    assert out.actions[-1]["status"] == "denied"
    assert "outside the policy's bounds" in out.actions[-1]["note"]


def test_an_expired_approval_is_refused_and_the_run_moves_on(make_runner, cluster):
    from datetime import UTC, datetime, timedelta

    import pytest

    from agent.approvals import ApprovalError

    runner = make_runner()
    req = runner.investigate("checkout is throwing 500s").approvals[0]
    late = ApprovalDecision(
        approval_id=req["id"],
        decision="approve",
        approver="alice",
        decided_at=datetime.now(UTC) + timedelta(days=1),
    )
    with pytest.raises(ApprovalError, match="expired"):
        runner.resume(req["id"], late)
    assert cluster.applied == []
    assert runner.deps.approvals.get(req["id"]).status == "expired"
    out = runner.outcome(req["incident_id"])
    assert out.actions[0]["outcome"] == "rejected" and "expired" in out.actions[0]["note"]
    assert [a["tool"] for a in out.approvals] == ["k8s_scale"]


def test_a_crash_inside_a_node_ends_the_run_cleanly(make_runner, cluster, tmp_path):
    class Broken:
        name = "broken"

        def next_step(self, state, ctx):
            raise ZeroDivisionError("reasoner bug")

    runner = make_runner()
    runner.deps.reasoner = Broken()
    out = runner.investigate("checkout is throwing 500s")
    assert out.status == "aborted"
    assert "internal error: ZeroDivisionError: reasoner bug" in (out.stop_reason or "")
    log = (tmp_path / "data" / "errors.log").read_text()
    assert "ZeroDivisionError" in log and out.incident_id in log
    assert runner.deps.audit.rows(incident_id=out.incident_id, kind="run_finished")


def test_the_approval_is_announced_and_audited_once_across_the_resume(make_runner, cluster):
    runner = make_runner()
    first, second = Events(), Events()
    req = runner.investigate("checkout is throwing 500s", on_event=first).approvals[0]
    runner.resume(
        req["id"], ApprovalDecision(approval_id=req["id"], decision="approve", approver="a"), on_event=second
    )
    assert first.kinds().count("approval_requested") == 1
    assert "approval_requested" not in second.kinds() and "approval_decided" in second.kinds()
    rows = runner.deps.audit.rows(incident_id=req["incident_id"], kind="approval_requested")
    assert len(rows) == 1


def test_an_unreachable_cluster_is_reported_not_called_healthy(make_runner, cluster):
    runner = make_runner()

    def refuse(deps, **kw):
        from tools.base import ToolResult

        return ToolResult.error("cannot reach the Kubernetes API at http://127.0.0.1:1: connection refused")

    from dataclasses import replace

    from tools.registry import Registry

    tools = [replace(t, func=refuse) if t.name == "triage" else t for t in runner.deps.tools.all()]
    runner.deps.tools = Registry(tools)
    out = runner.investigate("is cart healthy?")
    assert out.status == "aborted"
    assert "triage could not run" in (out.stop_reason or "") and "connection refused" in (
        out.stop_reason or ""
    )


def test_a_turn_killed_inside_a_node_does_not_poison_the_next_one(make_runner, cluster):
    runner = make_runner(policy=POLICY_AUTO)
    real = runner.deps.reasoner

    class Dies:
        name = "planner"

        def next_step(self, state, ctx):
            raise KeyboardInterrupt  # the process is stopped half-way through a turn

    runner.deps.reasoner = Dies()
    with pytest.raises(KeyboardInterrupt):
        runner.investigate("checkout is throwing 500s", thread_id="chat-x", source="chat")
    assert runner.graph.get_state({"configurable": {"thread_id": "chat-x"}}).next  # left half-way
    runner.deps.reasoner = real
    out = runner.investigate("checkout is throwing 500s", thread_id="chat-x", source="chat")
    assert out.status == "resolved"
    assert len(cluster.applied) == 1


def test_a_decision_the_run_took_before_a_crash_is_carried_on_not_refused(make_runner, cluster):
    """The process died after the run took the approval and before ``act`` (seen in the kill-at-
    every-node test): the queued resume found the run no longer waiting and refused, so the approved
    rollback never ran. Now it carries on from the checkpoint and applies the change once."""
    from langgraph.types import Command

    from agent.runner import _config

    runner = make_runner()
    req = runner.investigate("checkout is throwing 500s").approvals[0]
    decision = ApprovalDecision(approval_id=req["id"], decision="approve", approver="al")
    runner.claim(req["id"], decision)
    # the decision reaches the run, which then stops before act (as a SIGKILL there leaves it)
    runner.graph.invoke(
        Command(resume=decision.model_dump(mode="json")),
        _config(req["incident_id"]),
        context=runner.deps,
        interrupt_before=["act"],
    )
    assert runner.interrupted(req["incident_id"]) and cluster.applied == []
    done = runner.resume(req["id"], decision, claimed=True)
    assert done.status == "resolved", done.report
    assert cluster.applied == [("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})]
    again = runner.resume(req["id"], decision, claimed=True)  # the same queued item once more
    assert again.status == "resolved" and len(cluster.applied) == 1


def _alert(follows: dict | None) -> dict:
    alert = {
        "status": "firing",
        "labels": {"alertname": "ServiceHighErrorRate", "namespace": "shop", "service": "checkout"},
        "annotations": {"summary": "checkout answers 5xx"},
        "startsAt": "2026-12-03T12:00:00Z",
        "fingerprint": "f1",
    }
    return {
        "version": "4",
        "status": "firing",
        "groupKey": "g1",
        "alerts": [alert],
        **({"follows": follows} if follows else {}),
    }


def test_a_group_released_after_a_verified_fix_with_nothing_failing_is_not_diagnosed_again(
    make_runner, cluster
):
    """One fault, one investigation: the eval's bad deploy opened a second run for a slow burn-rate
    alert after the rollback was verified, and it ran the runbook's four diagnostics on a healthy
    service. A follow-up with no symptom left now ends after triage."""
    cluster.bad_images.clear()  # the earlier incident's rollback healed checkout
    runner = make_runner(policy=POLICY_AUTO)
    events = Events()
    follows = {"incident": "inc-first", "root_cause": "bad rollout of checkout"}
    out = runner.investigate(alert=_alert(follows), on_event=events)
    assert out.status == "no_action_needed", out.report
    assert "inc-first" in out.report and events.tools() == []  # triage and the report's health check only
    assert cluster.applied == []

    alone = runner.investigate(alert=_alert(None), on_event=Events())  # without a fix to follow: diagnosed
    assert alone.status == "no_action_needed"
    assert [
        r
        for r in runner.deps.audit.rows(incident_id=alone.incident_id, kind="tool_call")
        if r.data.get("purpose") == "read"
    ]


def test_a_follow_up_that_still_fails_is_diagnosed_and_fixed(make_runner, cluster):
    runner = make_runner(policy=POLICY_AUTO)
    out = runner.investigate(alert=_alert({"incident": "inc-first", "root_cause": "x"}), on_event=Events())
    assert out.status == "resolved", out.report  # checkout still answers 5xx: a new fault, not a lag
    assert cluster.applied == [("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})]


def test_a_decision_that_arrives_before_the_pause_is_checkpointed_waits_for_it(make_runner, cluster):
    """The request is stored just before the run checkpoints its pause. The eval's scripted approver
    answered in that moment, was refused ("not waiting"), and the approved rollback never ran."""
    import threading
    import time

    runner = make_runner()
    saver = runner.graph.checkpointer
    real_put = saver.put

    def slow_put(*args, **kwargs):
        time.sleep(0.3)  # widen the moment between the stored request and the stored pause
        return real_put(*args, **kwargs)

    saver.put = slow_put  # type: ignore[method-assign]
    run = threading.Thread(target=runner.investigate, args=("checkout is throwing 500s",))
    run.start()
    deadline = time.monotonic() + 30
    while not runner.deps.approvals.list(status="pending") and time.monotonic() < deadline:
        time.sleep(0.01)
    [req] = runner.deps.approvals.list(status="pending")
    decision = ApprovalDecision(approval_id=req.id, decision="approve", approver="quick")
    claimed = runner.claim(req.id, decision)  # at once: the pause is not checkpointed yet
    assert claimed.status == "approved"
    run.join(30)
    saver.put = real_put  # type: ignore[method-assign]
    done = runner.resume(req.id, decision, claimed=True)
    assert done.status == "resolved" and len(cluster.applied) == 1
