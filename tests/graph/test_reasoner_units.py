"""Pure pieces of the reasoners: answer parsing, argument parsing, the planner's focus."""

from __future__ import annotations

from agent.reasoners.llm import _parse_call, _step_from, root_cause_of
from agent.reasoners.planner import focus, suspect


def f(kind, target, severity="warning", **data):
    return {"kind": kind, "target": target, "severity": severity, "summary": kind, "data": data}


def test_root_cause_line_is_found_in_markdown():
    assert root_cause_of("## Findings\n**Root cause:** predictor v2 is bad\nmore") == "predictor v2 is bad"
    assert root_cause_of("- root cause: cache down") == "cache down"
    assert root_cause_of("nothing to see") is None


def test_arguments_must_be_a_json_object():
    assert _parse_call({"id": "1", "name": "t", "arguments": '{"a": 1}'}).args == {"a": 1}
    assert _parse_call({"id": "1", "name": "t", "arguments": ""}).args == {}
    bad = _parse_call({"id": "1", "name": "t", "arguments": "[1, 2]"})
    assert bad.args is None and "JSON object" in (bad.args_error or "")
    broken = _parse_call({"id": "1", "name": "t", "arguments": '{"a": '})
    assert broken.args is None and "not valid JSON" in (broken.args_error or "")


def test_a_message_without_tool_calls_is_the_final_answer():
    step = _step_from("Root cause: x", [], 12)
    assert step.kind == "finish" and step.root_cause == "x" and step.tokens == 12
    step = _step_from("", [{"id": "c1", "name": "k8s_get", "arguments": "{}"}], 3)
    assert step.kind == "call_tools" and step.message["tool_calls"][0]["id"] == "c1"


FINDINGS = [
    f(
        "high_error_rate",
        "Service/ns/api-gateway",
        "critical",
        deployment="api-gateway",
        service="api-gateway",
    ),
    f("connection_errors", "Service/ns/predictor", deployment="api-gateway", upstream="predictor"),
    f("high_error_rate", "Service/ns/predictor", "critical", deployment="predictor", service="predictor"),
    f("recent_rollout", "Deployment/ns/predictor", "info", deployment="predictor"),
    f("recent_rollout", "Deployment/ns/api-gateway", "info", deployment="api-gateway"),
    f("config_changed", "ConfigMap/ns/cache-config", deployment="cache", deployments=["cache"]),
]


def test_errors_are_followed_to_the_failing_upstream():
    assert suspect(FINDINGS, "api-gateway") == "predictor"
    assert suspect(FINDINGS, "predictor") == "predictor"
    assert suspect(FINDINGS, None) is None
    healthy_upstream = [
        x for x in FINDINGS if x["target"] != "Service/ns/predictor" or x["kind"] != "high_error_rate"
    ]
    assert suspect(healthy_upstream, "api-gateway") == "api-gateway"


def test_focus_keeps_the_service_and_drops_neighbours():
    kept = focus(FINDINGS, "predictor")
    assert [x["kind"] for x in kept] == ["connection_errors", "high_error_rate", "recent_rollout"]
    assert all(x["target"].endswith("/predictor") for x in kept)
    assert all(x["kind"] != "config_changed" for x in kept)
    assert focus(FINDINGS, "cache") == FINDINGS  # nothing abnormal about cache itself: keep everything
    assert focus(FINDINGS, None) == FINDINGS


def test_focus_widens_to_the_clients_that_saturate_a_dependency() -> None:
    """db-connections: the database is the suspect, but the fix is a client's config change."""
    from agent.reasoners.planner import focus

    findings = [
        {
            "kind": "db_connections_exhausted",
            "target": "Service/market-predictor/feature-store",
            "severity": "critical",
            "summary": "feature-store connections at 100% of max",
            "data": {"service": "feature-store", "clients": ["ingest-worker", "predictor"]},
        },
        {
            "kind": "config_changed",
            "target": "ConfigMap/market-predictor/ingest-worker-config",
            "severity": "warning",
            "summary": "POOL_SIZE 8 -> 60",
            "data": {
                "configmap": "ingest-worker-config",
                "deployment": "ingest-worker",
                "key": "POOL_SIZE",
                "previous_value": "8",
            },
        },
        {
            "kind": "recent_rollout",
            "target": "Deployment/market-predictor/cache",
            "severity": "info",
            "summary": "cache rolled out",
            "data": {"deployment": "cache"},
        },
    ]
    kinds = [f["kind"] for f in focus(findings, "feature-store")]
    assert kinds == ["db_connections_exhausted", "config_changed"]


def test_verify_keeps_the_changed_service_in_scope_after_it_recovers() -> None:
    """memory-leak: predictor recovered after the rollback while api-gateway blipped; that is not "worse"."""
    from agent.nodes.verify import Observation, in_scope, judge
    from agent.reasoners.base import scoped

    services = ["predictor"]
    before = [
        {
            "kind": "oom_killed",
            "target": "Deployment/market-predictor/predictor",
            "severity": "critical",
            "summary": "predictor OOMKilled",
        },
    ]
    after = [
        {
            "kind": "high_error_rate",
            "target": "Service/market-predictor/api-gateway",
            "severity": "critical",
            "summary": "api-gateway 5xx 3%",
        },
    ]
    assert judge(scoped(before, services), Observation(in_scope(before, after, services), None)) == (
        "fixed",
        "the symptoms seen before the change are gone",
    )
    # the old namespace-wide fallback called the neighbour's blip a new critical symptom
    assert judge(scoped(before, services), Observation(scoped(after, services), None))[0] == "worse"


def test_a_config_revert_is_followed_by_its_restart_without_waiting_out_verify() -> None:
    """db-connections: the pool-size revert shows only after the restart; verify must not judge it alone."""
    from agent.remediation import runbook_candidates
    from knowledge.runbooks import load_runbooks

    books = [r for r in load_runbooks() if r.id == "db-connections-exhausted"]
    findings = [
        {
            "kind": "db_connections_exhausted",
            "target": "Service/mp/feature-store",
            "severity": "critical",
            "summary": "full",
            "data": {"service": "feature-store", "clients": ["ingest-worker"]},
        },
        {
            "kind": "config_changed",
            "target": "ConfigMap/mp/ingest-worker-config",
            "severity": "warning",
            "summary": "POOL_SIZE",
            "data": {
                "configmap": "ingest-worker-config",
                "deployment": "ingest-worker",
                "key": "POOL_SIZE",
                "previous_value": "8",
            },
        },
    ]
    state = {"incident": {"namespace": "mp", "service": "feature-store"}, "findings": findings, "actions": []}
    first = runbook_candidates(books, state)[0]  # type: ignore[arg-type]
    assert first["tool"] == "k8s_patch_configmap" and first["followed_by"] == ["restart-after-revert"]
    state["actions"] = [{"action_key": first["action_key"], "outcome": "pending"}]
    assert runbook_candidates(books, state)[0]["tool"] == "k8s_rollout_restart"  # type: ignore[arg-type]
