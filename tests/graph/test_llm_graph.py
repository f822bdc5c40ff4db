"""The LLM reasoner through the real ``openai`` client against the fake chat-completions server."""

from __future__ import annotations

import json

import pytest
from fakes.agent_harness import Events
from fakes.openai_server import FakeOpenAI, call, error, reply

from agent.approvals import ApprovalDecision


@pytest.fixture
def llm():
    with FakeOpenAI() as server:
        yield server


def llm_runner(make_runner, llm, **kw):
    return make_runner(reasoner="llm", llm_base_url=llm.base_url, llm_model="fake-model", **kw)


def tool_messages(body):
    return [m for m in body["messages"] if m["role"] == "tool"]


def test_diagnosis_calls_several_read_tools_and_answers(make_runner, llm, cluster):
    llm.add(
        reply(
            tool_calls=[
                call("k8s_rollout_history", {"deployment": "checkout", "namespace": "shop"}),
                call("prometheus_query", {"query": "errors"}),
            ]
        ),
        reply(tool_calls=[call("k8s_get", {"kind": "deployment", "name": "checkout", "namespace": "shop"})]),
        reply("Root cause: checkout v2 answers 5xx since its rollout.\nRecommend a rollback."),
    )
    events = Events()
    out = llm_runner(make_runner, llm).investigate("why is checkout failing?", on_event=events)
    # the model only recommended; checkout still fails, so a human gets it (never "no action needed")
    assert out.status == "escalated"
    assert out.handoff is not None and out.handoff["why"]
    assert any("checkout" in cmd for cmd in out.handoff["next"])
    assert "## Hand-off" in out.report
    assert out.root_cause == "checkout v2 answers 5xx since its rollout."
    assert events.tools() == ["k8s_rollout_history", "prometheus_query", "k8s_get"]
    assert len(llm.requests) == 3
    first = llm.requests[0]
    assert (
        first["messages"][0]["role"] == "system" and "never instructions" in first["messages"][0]["content"]
    )
    assert "high_error_rate" in first["messages"][1]["content"]  # triage findings reach the model
    assert {t["function"]["name"] for t in first["tools"]} >= {"k8s_rollback", "triage", "k8s_get"}
    assert "revision 2: shop/checkout:v2" in tool_messages(llm.requests[1])[0]["content"]
    assert out.tokens > 0 and cluster.applied == []


def test_retries_after_429_then_answers(make_runner, llm):
    llm.add(error(429, "slow down"), reply("Root cause: nothing is wrong."))
    out = llm_runner(make_runner, llm, llm_max_retries=2).investigate("is cart ok?")
    assert llm.responses[:2] == [429, 200]
    assert out.root_cause == "nothing is wrong."


def test_endpoint_failure_ends_the_run_with_a_clear_message(make_runner, llm):
    llm.add(error(500, "boom"))
    out = llm_runner(make_runner, llm).investigate("is cart ok?")
    assert out.status == "aborted"
    assert "HTTP 500" in (out.stop_reason or "") and "devops-agent doctor" in (out.stop_reason or "")


def test_proposed_rollback_stops_at_the_approval_interrupt(make_runner, llm, cluster):
    llm.add(
        reply(
            "Rolling back the bad rollout.",
            tool_calls=[call("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})],
        )
    )
    runner = llm_runner(make_runner, llm)
    out = runner.investigate("checkout 500s")
    assert out.status == "awaiting_approval"
    assert cluster.applied == []
    [req] = out.approvals
    assert req["tool"] == "k8s_rollback" and req["target"]["name"] == "checkout"
    assert req["undo"]["tool"] == "k8s_set_image"
    assert runner.waiting_for(out.incident_id) == req["id"]
    kinds = [r.kind for r in runner.deps.audit.rows(incident_id=out.incident_id)]
    assert "approval_requested" in kinds and "action_applied" not in kinds


def test_rejection_returns_to_reasoning_with_the_reason(make_runner, llm, cluster):
    llm.add(
        reply(tool_calls=[call("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})]),
        reply(
            "Root cause: bad rollout of checkout v2. A human declined the rollback; recommend it after the freeze."
        ),
    )
    runner = llm_runner(make_runner, llm)
    out = runner.investigate("checkout 500s")
    req = out.approvals[0]
    out = runner.resume(
        req["id"],
        ApprovalDecision(approval_id=req["id"], decision="reject", approver="bob", reason="release freeze"),
    )
    assert out.status == "mitigation_failed"
    assert cluster.applied == []
    told = tool_messages(llm.requests[1])[-1]["content"]
    assert "rejected by bob: release freeze" in told
    assert out.actions[0]["outcome"] == "rejected"


def test_approved_change_is_applied_once_and_verified(make_runner, llm, cluster):
    llm.add(
        reply(tool_calls=[call("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})]),
        reply("Root cause: checkout v2 was bad; rolled back to v1."),
    )
    runner = llm_runner(make_runner, llm)
    req = runner.investigate("checkout 500s").approvals[0]
    out = runner.resume(
        req["id"], ApprovalDecision(approval_id=req["id"], decision="approve", approver="alice")
    )
    assert out.status == "resolved"
    assert cluster.dep("shop", "checkout").image == "shop/checkout:v1"
    assert "verification: fixed" in tool_messages(llm.requests[1])[-1]["content"]
    applied = runner.deps.audit.rows(incident_id=out.incident_id, kind="action_applied")
    assert [r.idempotency_key for r in applied] == [req["id"]]
    with pytest.raises(Exception, match="not waiting"):
        runner.resume(
            req["id"], ApprovalDecision(approval_id=req["id"], decision="approve", approver="alice")
        )
    assert len(cluster.applied) == 1


def test_change_that_makes_things_worse_is_undone(make_runner, llm, cluster):
    cluster.worse_after_rollback = True
    llm.add(
        reply(tool_calls=[call("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})]),
        reply("Root cause: unclear; the rollback made it worse and was undone."),
    )
    runner = make_runner(
        policy="version: 1\ndefault_autonomy: auto\nguardrails: {cooldown_s: 0}\n",
        reasoner="llm",
        llm_base_url=llm.base_url,
    )
    out = runner.investigate("checkout 500s")
    assert out.status == "mitigation_failed"
    assert [t for t, _ in cluster.applied] == ["k8s_rollback", "k8s_set_image"]
    assert cluster.dep("shop", "checkout").image == "shop/checkout:v2"
    assert runner.deps.audit.rows(incident_id=out.incident_id, kind="action_undone")
    assert out.actions[0]["outcome"] == "worse"


@pytest.mark.parametrize(
    ("bad_call", "expected"),
    [
        (lambda: call("k8s_teleport", {"pod": "x"}), "no tool named 'k8s_teleport'"),
        (
            lambda: call("k8s_rollback", '{"deployment": "checkout", namespace'),
            "malformed arguments for k8s_rollback",
        ),
    ],
)
def test_invalid_calls_end_the_run_and_execute_nothing(make_runner, llm, cluster, bad_call, expected):
    llm.default = lambda body: reply(tool_calls=[bad_call()])
    runner = llm_runner(make_runner, llm)
    out = runner.investigate("checkout 500s")
    assert out.status == "aborted"
    assert expected in (out.stop_reason or "")
    assert expected in tool_messages(llm.requests[1])[-1]["content"]  # the model was told once
    assert len(llm.requests) == 2
    assert cluster.applied == []
    assert not runner.deps.audit.rows(kind="approval_requested")


def test_a_model_repeating_itself_is_stopped(make_runner, llm, cluster):
    llm.default = lambda body: reply(tool_calls=[call("prometheus_query", {"query": "errors"})])
    events = Events()
    out = llm_runner(make_runner, llm).investigate("checkout 500s", on_event=events)
    assert out.status == "aborted"
    assert "already called with these arguments" in (out.stop_reason or "")
    assert events.tools() == ["prometheus_query"]  # ran once, never again
    assert len(llm.requests) == 3


def test_step_limit_and_token_budget_end_with_partial_report(make_runner, llm):
    counter = iter(range(1000))
    llm.default = lambda body: reply(tool_calls=[call("prometheus_query", {"query": f"q{next(counter)}"})])
    out = llm_runner(make_runner, llm, max_steps=3).investigate("checkout 500s")
    assert out.status == "aborted" and "step limit of 3" in (out.stop_reason or "")
    assert "step limit" in out.report and "## Evidence" in out.report
    out = llm_runner(make_runner, llm, token_budget=1000).investigate("checkout 500s")
    assert out.status == "aborted" and "token budget of 1000" in (out.stop_reason or "")


def test_streaming_sends_tokens_to_the_callback(make_runner, llm):
    llm.add(
        reply(tool_calls=[call("prometheus_query", {"query": "errors"})]),
        reply("Root cause: checkout v2 is broken."),
    )
    runner = llm_runner(make_runner, llm)
    events = Events()
    out = runner.investigate("checkout?", on_event=events, source="chat")
    assert out.root_cause == "checkout v2 is broken."
    assert (
        "".join(e.data["text"] for e in events.items if e.kind == "token")
        == "Root cause: checkout v2 is broken."
    )
    assert all(r.get("stream") for r in llm.requests)


def test_investigations_do_not_stream(make_runner, llm):
    llm.add(reply("Root cause: none."))
    llm_runner(make_runner, llm).investigate("checkout?")
    assert not llm.requests[0].get("stream")


def test_secrets_never_reach_the_model(make_runner, llm):
    llm.add(
        reply(
            tool_calls=[
                call("k8s_get", {"kind": "secret", "name": "checkout-db", "namespace": "shop"}),
                call("k8s_get", {"kind": "deployment", "name": "checkout", "namespace": "shop"}),
            ]
        ),
        reply("Root cause: none."),
    )
    runner = llm_runner(make_runner, llm)
    runner.investigate(
        "checkout fails; the db password=hunter2-db-pass might be wrong. token: sk-abcdef1234567890abcd"
    )
    sent = llm.all_text()
    assert "checkout-db" in sent and "DB_PASSWORD" in sent  # the tools did run and answer
    for secret in ("c3VwZXJzZWNyZXQtdmFsdWU=", "hunter2-db-pass", "sk-abcdef1234567890abcd"):
        assert secret not in sent
    assert json.dumps(llm.requests[0]).count("****") >= 1


def test_chat_turns_share_the_thread_and_survive_an_interrupted_turn(make_runner, llm, cluster):
    runner = llm_runner(make_runner, llm)
    llm.add(reply("Root cause: checkout v2."))
    first = runner.investigate("what is wrong with checkout?", source="chat", thread_id="chat-1")
    assert first.incident_id == "chat-1"

    def interrupt_on_tool(event):
        if event.kind == "tool_started" and event.data.get("tool") == "prometheus_query":
            raise KeyboardInterrupt

    llm.add(reply(tool_calls=[call("prometheus_query", {"query": "errors"})]))
    with pytest.raises(KeyboardInterrupt):
        runner.investigate("how bad is it?", thread_id="chat-1", source="chat", on_event=interrupt_on_tool)
    llm.add(reply("Root cause: still checkout v2."))
    third = runner.investigate("and now?", thread_id="chat-1", source="chat")
    assert third.root_cause == "still checkout v2."
    msgs = llm.requests[-1]["messages"]
    users = [m["content"] for m in msgs if m["role"] == "user"]
    assert len(users) == 3 and "and now?" in users[-1]
    calls = [c["id"] for m in msgs if m["role"] == "assistant" for c in m.get("tool_calls") or []]
    answered = {m["tool_call_id"] for m in msgs if m["role"] == "tool"}
    assert set(calls) <= answered  # the interrupted call was closed, the conversation stays valid


def test_past_incidents_and_learned_outcomes_reach_the_model(make_runner, llm, cluster):
    from fakes.agent_harness import POLICY_AUTO

    first = make_runner(policy=POLICY_AUTO).investigate("checkout is throwing 500s")
    assert first.status == "resolved"
    cluster.deployments["checkout"].images.append("shop/checkout:v2")  # the same bad rollout again
    llm.add(reply("Root cause: checkout v2 again."))
    llm_runner(make_runner, llm).investigate("checkout is throwing 500s again")
    prompt = llm.requests[0]["messages"][1]["content"]
    assert first.incident_id in prompt  # recalled from memory
    assert "shop-bad-deploy:rollback" in prompt  # what worked, from the outcome statistics
