"""The LLM gets the knowledge the offline planner uses: runbooks, past incidents, learned outcomes.

Through the real ``openai`` client against the fake chat-completions server; memory and outcome
statistics live in the test's tmp data dir and are seeded through the runner's own seam.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fakes.agent_harness import POLICY_AUTO, RUNBOOK
from fakes.openai_server import FakeOpenAI, call, reply

from agent.deps import with_knowledge_tools
from agent.knowledge_context import runbooks_text
from knowledge.records import ActionOutcome, IncidentRecord
from knowledge.runbooks import parse_runbook
from tools.budget import estimate_tokens
from tools.registry import default_registry

SIGNATURE = "alert=-|findings=high_error_rate,recent_rollout|service=checkout"
"""What the planner counts outcomes under for the scripted bad rollout of checkout (written out,
not computed, so a drift between the two reasoners' signatures fails here)."""

FIRST_REQUEST_BUDGET = 1000
"""Tokens (chars/4, as the endpoint receives them) the first request's messages may cost: the system
prompt and the incident prompt with findings, runbooks, a past incident and the statistics. The tool
schemas come on top (< 3,000 for the agent's full registry: the test below)."""


@pytest.fixture
def llm():
    with FakeOpenAI() as server:
        yield server


def llm_runner(make_runner, llm, **kw):
    return make_runner(reasoner="llm", llm_base_url=llm.base_url, llm_model="fake-model", **kw)


def seed(runner) -> None:
    """One past incident and the outcomes learned for this symptom signature."""
    stats = runner.deps.stats
    for _ in range(3):
        stats.record(SIGNATURE, "shop-bad-deploy:rollback", "fixed")
    for _ in range(2):
        stats.record(SIGNATURE, "k8s_rollout_restart", "no_effect")
    started = datetime.now(UTC) - timedelta(days=2)
    runner.deps.memory.remember(
        IncidentRecord(
            id="inc-past-checkout",
            title="checkout is throwing 500s after deploying v7",
            started_at=started,
            mitigated_at=started + timedelta(minutes=4),
            service="checkout",
            namespace="shop",
            fault_class="bad_deploy",
            symptoms=["checkout answers 38% 5xx"],
            root_cause="checkout v7 broke the payment client",
            actions=[
                ActionOutcome(
                    tool="k8s_rollback",
                    args={"deployment": "checkout", "namespace": "shop"},
                    outcome="fixed",
                    approved_by="alice",
                    action_key="shop-bad-deploy:rollback",
                )
            ],
        )
    )


def first_prompt(llm) -> str:
    return llm.requests[0]["messages"][1]["content"]


def test_first_request_carries_the_runbook_fix_past_incident_and_statistics(make_runner, llm):
    runner = llm_runner(make_runner, llm)
    seed(runner)
    llm.add(reply("Root cause: checkout v2 is bad."))
    runner.investigate("checkout is throwing 500s")
    prompt = first_prompt(llm)
    runbooks = prompt.split("## Matching runbooks", 1)[1]
    assert "runbook shop-bad-deploy: Error rate up right after a rollout" in runbooks
    # the remediation with its preconditions, arguments rendered for this incident
    assert (
        "remediation shop-bad-deploy:rollback: k8s_rollback(deployment='checkout', namespace='shop') "
        "(requires recent_rollout, high_error_rate) → 5xx back under 1%" in runbooks
    )
    assert "diagnose: k8s_rollout_history(deployment='checkout', namespace='shop')" in runbooks
    assert "# Error rate up after a rollout" not in prompt  # a summary, not the Markdown body
    learned = prompt.split("## What worked before for these symptoms", 1)[1].split("##", 1)[0]
    assert f"Action outcomes for {SIGNATURE}" in learned
    assert "- shop-bad-deploy:rollback: fixed 3/3" in learned
    assert "- k8s_rollout_restart: fixed 0/2, no_effect 2" in learned
    past = prompt.split("## Similar past incidents", 1)[1].split("##", 1)[0]
    assert "[inc-past-checkout]" in past and "checkout v7 broke the payment client" in past
    assert "action: k8s_rollback" in past and "-> fixed, approved by alice" in past


def test_first_request_stays_within_its_token_budget(make_runner, llm):
    runner = llm_runner(make_runner, llm)
    seed(runner)
    llm.add(reply("Root cause: checkout v2 is bad."))
    runner.investigate("checkout is throwing 500s")
    body = llm.requests[0]
    wire = json.dumps(body["messages"], separators=(",", ":"), ensure_ascii=False)  # as the client sends it
    assert estimate_tokens(wire) <= FIRST_REQUEST_BUDGET
    assert estimate_tokens(body["messages"][1]["content"]) <= 1500  # the incident prompt itself
    assert {"search_runbooks", "recall_incidents"} <= {t["function"]["name"] for t in body["tools"]}


def test_the_model_calling_search_runbooks_gets_a_runbook_back(make_runner, llm):
    runner = llm_runner(make_runner, llm)
    llm.add(
        reply(tool_calls=[call("search_runbooks", {"query": "error rate up right after a rollout"})]),
        reply("Root cause: checkout v2."),
    )
    runner.investigate("is the shop healthy?")
    [answer] = [m for m in llm.requests[1]["messages"] if m["role"] == "tool"]
    assert answer["content"].startswith("[ok] runbook shop-bad-deploy: Error rate up right after a rollout")
    assert "remediation shop-bad-deploy:rollback: k8s_rollback(" in answer["content"]
    assert "requires recent_rollout, high_error_rate" in answer["content"]


def test_the_model_calling_recall_incidents_gets_the_past_incident(make_runner, llm):
    runner = llm_runner(make_runner, llm)
    seed(runner)
    llm.add(
        reply(tool_calls=[call("recall_incidents", {"query": "checkout 500s after a deploy"})]),
        reply("Root cause: checkout v2."),
    )
    runner.investigate("is the shop healthy?")
    [answer] = [m for m in llm.requests[1]["messages"] if m["role"] == "tool"]
    assert answer["content"].startswith("[ok] [inc-past-checkout]")
    assert "k8s_rollback" in answer["content"] and "-> fixed" in answer["content"]


def test_runbooks_are_indexed_at_start_and_found_by_text_when_no_alert_matches(make_runner, llm):
    runner = llm_runner(make_runner, llm)
    assert [h.id for h in runner.deps.memory.search_runbooks("rollout error rate", k=3)] == [
        "shop-bad-deploy"
    ]
    llm.add(reply("Root cause: none."))
    # no alert, and the cart is healthy (no findings): the runbook comes from the text search
    out = runner.investigate("errors right after a rollout of cart?")
    assert runner.state(out.incident_id)["runbooks"] == ["shop-bad-deploy"]
    assert "runbook shop-bad-deploy" in first_prompt(llm)


def test_an_llm_change_from_a_runbook_is_learned_like_the_planners(make_runner, llm, cluster):
    llm.add(
        reply(tool_calls=[call("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})]),
        reply("Root cause: checkout v2; rolled back."),
    )
    runner = llm_runner(make_runner, llm, policy=POLICY_AUTO)
    out = runner.investigate("checkout is throwing 500s")
    assert out.status == "resolved" and out.actions[0]["action_key"] == "shop-bad-deploy:rollback"
    assert runner.deps.stats.stats_for(SIGNATURE)["shop-bad-deploy:rollback"].fixed == 1
    # the planner finds it as a proven fix for the same symptoms and skips the diagnostics
    cluster.deployments["checkout"].images.append("shop/checkout:v2")
    again = make_runner(policy=POLICY_AUTO).investigate("checkout is throwing 500s")
    assert again.status == "resolved"
    assert "fixed this same signature before" in again.actions[0]["reason"]


def test_the_agents_full_tool_registry_stays_under_3900_tokens(make_runner, llm):
    runner = llm_runner(make_runner, llm)
    full = with_knowledge_tools(default_registry(), runner.deps.knowledge)
    schemas = [t.openai_schema() for t in full.all()]
    assert {"search_runbooks", "recall_incidents", "k8s_rollback"} <= {s["function"]["name"] for s in schemas}
    wire = json.dumps(schemas, separators=(",", ":"), ensure_ascii=False)  # what the endpoint receives
    assert (
        estimate_tokens(wire) < 3900
    )  # 3400 until posture_check, k8s_set_pdb and k8s_pin_image_digest (~290), drift and desired_sync (~165)
    ours = [s for s in schemas if s["function"]["name"] in ("search_runbooks", "recall_incidents")]
    assert estimate_tokens(json.dumps(ours, separators=(",", ":"))) < 150  # the knowledge tools stay tiny


def test_runbook_summaries_keep_to_their_token_cap():
    rb = parse_runbook(RUNBOOK, "test")
    many = [rb.model_copy(update={"id": f"rb-{i}"}) for i in range(30)]
    text = runbooks_text(many, budget=200)
    assert estimate_tokens(text) <= 200 and text.startswith("runbook rb-0:")


def test_without_memory_runbooks_are_still_found_and_recall_says_why(make_runner, llm):
    from fakes.agent_env import closed_port

    runner = llm_runner(make_runner, llm, chroma_url=f"http://127.0.0.1:{closed_port()}")
    llm.add(
        reply(
            tool_calls=[
                call("search_runbooks", {"query": "error rate right after a rollout"}),
                call("recall_incidents", {"query": "checkout 500s"}),
            ]
        ),
        reply("Root cause: checkout v2."),
    )
    out = runner.investigate("is the shop healthy?")
    assert out.status == "escalated"  # the shop is not healthy (checkout v2 fails) and nothing was changed
    found, recalled = [m["content"] for m in llm.requests[1]["messages"] if m["role"] == "tool"]
    assert found.startswith("[ok] runbook shop-bad-deploy:")  # word match over the loaded runbooks
    assert recalled.startswith("[error] memory unavailable:") and "carry on" in recalled
