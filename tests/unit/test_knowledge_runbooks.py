"""Runbooks: packaged ones load and validate, bad ones are rejected naming file and field, matching, templates."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from knowledge.runbooks import (
    RunbookError,
    TemplateContext,
    TemplateError,
    load_runbooks,
    match_runbooks,
    parse_runbook,
    render_args,
)
from knowledge.vocabulary import CONTRACT_TOOLS, FINDING_DATA_KEYS, FINDING_KINDS, registry_tool_names

FAULT_CLASSES = {
    "bad_deploy",
    "crashloop_config",
    "image_pull",
    "memory_leak",
    "traffic_surge",
    "pending_pod",
    "selector_mismatch",
    "db_connections",
    "cache_down",
    "queue_stalled",
    "readiness_probe",
    "node_not_ready",
}

GOOD = """---
id: demo
title: Demo
fault_class: bad_deploy
match:
  alerts: [ServiceHighErrorRate]
  findings: [high_error_rate]
diagnostics:
  - tool: k8s_rollout_history
    args: {deployment: "{service}", namespace: "{namespace}"}
    why: rollout?
remediations:
  - id: rollback
    tool: k8s_rollback
    args: {deployment: "{finding.recent_rollout.deployment}", namespace: "{namespace}"}
    requires: [recent_rollout]
---
# Demo
"""


def test_every_packaged_runbook_loads_and_each_fault_class_has_one() -> None:
    runbooks = load_runbooks()
    assert {rb.fault_class for rb in runbooks} >= FAULT_CLASSES
    for rb in runbooks:
        assert rb.remediations, f"{rb.id} has no remediation"
        assert "## Do NOT" in rb.body and "## Escalate" in rb.body, f"{rb.id} lacks the SRE sections"


def test_packaged_runbooks_use_only_existing_tools() -> None:
    names = registry_tool_names() or CONTRACT_TOOLS
    for rb in load_runbooks():
        for step in [*rb.diagnostics, *rb.remediations]:
            assert step.tool in names, f"{rb.id}: {step.tool}"


def test_packaged_runbooks_template_only_from_documented_finding_keys() -> None:
    pattern = re.compile(r"\{finding\.(\w+)\.(\w+)(?:\|[^}]*)?\}")
    for rb in load_runbooks():
        text = rb.model_dump_json()
        for kind, key in pattern.findall(text):
            assert key in FINDING_DATA_KEYS.get(kind, frozenset()), (
                f"{rb.id}: finding.{kind}.{key} is not in CONTRACTS"
            )


def test_remediation_actions_are_changes_not_reads() -> None:
    reads = {"k8s_get", "k8s_list", "k8s_describe", "prometheus_query", "loki_query", "triage"}
    for rb in load_runbooks():
        assert not {r.tool for r in rb.remediations} & reads, rb.id


@pytest.mark.parametrize(
    ("broken", "field", "hint"),
    [
        ("tool: k8s_rollback\n", "remediations[0].tool", "did you mean k8s_rollback?"),
        ("requires: [recent_rollout]", "remediations[0].requires[0]", "unknown finding kind"),
        ("title: Demo\n", "title", "Field required"),
        ("{finding.recent_rollout.deployment}", "remediations[0].args.deployment", "add it to requires"),
    ],
)
def test_a_bad_field_is_rejected_naming_the_file_and_the_field(
    tmp_path: Path, broken: str, field: str, hint: str
) -> None:
    replacement = {
        "tool: k8s_rollback\n": "tool: k8s_rolback\n",
        "requires: [recent_rollout]": "requires: [recent_rolout]",
        "title: Demo\n": "",
        "{finding.recent_rollout.deployment}": "{finding.crash_loop.deployment}",
    }[broken]
    path = tmp_path / "x.md"
    path.write_text(GOOD.replace(broken, replacement, 1))
    with pytest.raises(RunbookError) as err:
        load_runbooks([tmp_path], include_packaged=False)
    message = str(err.value)
    assert message.startswith(f"{path}: {field}:"), message
    assert hint in message


def test_missing_front_matter_and_duplicate_ids_are_reported(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match="no YAML front matter"):
        parse_runbook("# just markdown\n", "notes.md")
    (tmp_path / "a.md").write_text(GOOD)
    (tmp_path / "b.md").write_text(GOOD)
    with pytest.raises(RunbookError, match=r"b\.md: id: 'demo' is already used by .*a\.md"):
        load_runbooks([tmp_path], include_packaged=False)


def test_a_runbook_in_an_extra_dir_replaces_the_packaged_one(tmp_path: Path) -> None:
    (tmp_path / "mine.md").write_text(
        GOOD.replace("id: demo", "id: bad-deploy-rollback").replace("Demo", "Ours")
    )
    runbooks = {rb.id: rb for rb in load_runbooks([tmp_path])}
    assert runbooks["bad-deploy-rollback"].title == "Ours"
    assert "crashloop-config-revert" in runbooks


def test_match_puts_the_runbook_for_the_findings_first() -> None:
    runbooks = load_runbooks()
    crash = match_runbooks(runbooks, "KubePodCrashLooping", {}, ["crash_loop", "config_changed"])
    assert crash[0].id == "crashloop-config-revert"
    deploy = match_runbooks(runbooks, "ServiceHighErrorRate", {}, ["high_error_rate", "recent_rollout"])
    assert deploy[0].id == "bad-deploy-rollback"
    assert match_runbooks(runbooks, "SomethingElse", {}, []) == []


def test_label_constraints_must_all_hold() -> None:
    rb = parse_runbook(GOOD.replace("findings: [high_error_rate]", "labels: {env: prod}"), "x.md")
    assert match_runbooks([rb], "ServiceHighErrorRate", {"env": "prod"}, []) == [rb]
    assert match_runbooks([rb], "ServiceHighErrorRate", {"env": "staging"}, []) == []


def test_applicable_remediations_respect_requires_and_unless() -> None:
    rb = next(r for r in load_runbooks() if r.id == "crashloop-config-revert")
    assert next(r.id for r in rb.applicable({"crash_loop", "config_changed"})) == "revert-config"
    assert [r.id for r in rb.applicable({"crash_loop", "recent_rollout"})] == ["rollback-if-rollout"]
    assert rb.action_key(rb.remediations[0]) == "crashloop-config-revert:revert-config"


def test_render_args_fills_templates_and_keeps_types() -> None:
    ctx = TemplateContext.build(
        namespace="market-predictor",
        service="predictor",
        labels={"severity": "critical"},
        findings=[
            {"kind": "config_changed", "data": {"name": "ingest-worker-config", "previous_value": "8"}},
            {"kind": "config_changed", "data": {"name": "second-one"}},
            {"kind": "no_endpoints", "data": {"expected_selector": {"app": "predictor"}}},
        ],
    )
    args = {
        "name": "{finding.config_changed.name}",
        "value": "{finding.config_changed.previous_value}",
        "selector": "{finding.no_endpoints.expected_selector}",
        "query": 'up{namespace="{namespace}"} # {label.severity}',
        "replicas": 3,
    }
    assert render_args(args, ctx) == {
        "name": "ingest-worker-config",
        "value": "8",
        "selector": {"app": "predictor"},
        "query": 'up{namespace="market-predictor"} # critical',
        "replicas": 3,
    }


def test_a_missing_template_value_names_it() -> None:
    ctx = TemplateContext.build(namespace="ns", findings=[{"kind": "crash_loop", "data": {}}])
    with pytest.raises(
        TemplateError, match=r"\{finding.recent_rollout.deployment\}: no recent_rollout finding"
    ):
        render_args({"deployment": "{finding.recent_rollout.deployment}"}, ctx)
    with pytest.raises(TemplateError, match=r"\{finding.crash_loop.deployment\} has no value"):
        render_args({"deployment": "{finding.crash_loop.deployment}"}, ctx)
    with pytest.raises(TemplateError, match=r"\{service\} has no value"):
        render_args({"deployment": "{service}"}, ctx)


def test_finding_kinds_in_the_vocabulary_match_the_contract_doc() -> None:
    contracts = (Path(__file__).parents[2] / "docs" / "CONTRACTS.md").read_text()
    paragraph = contracts.split("\nKinds: ", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"`(\w+)`", paragraph))
    assert documented == set(FINDING_KINDS)


# What triage plausibly reports for each sandbox fault (its expected alert plus the findings), and
# the first change the runbooks should lead to. Side effects are included on purpose: a config
# change is applied with a restart (a rollout), a scaled-down cache leaves a Service without endpoints.
FAULT_SCENARIOS = [
    ("bad-deploy", "ServiceHighErrorRate", ["high_error_rate", "recent_rollout"], "k8s_rollback"),
    (
        "crashloop-config",
        "KubePodCrashLooping",
        ["crash_loop", "config_changed", "recent_rollout", "high_error_rate"],
        "k8s_patch_configmap",
    ),
    ("image-pull", "KubeContainerWaiting", ["image_pull_error", "recent_rollout"], "k8s_rollback"),
    ("memory-leak", "ContainerOOMKilled", ["oom_killed", "recent_rollout", "crash_loop"], "k8s_rollback"),
    ("traffic-surge", "KubeHpaMaxedOut", ["hpa_maxed", "cpu_saturation", "high_latency"], "k8s_scale"),
    ("pending-pod", "KubePodNotReady", ["pods_pending", "recent_rollout"], "k8s_rollback"),
    (
        "selector-mismatch",
        "ServiceNoEndpoints",
        ["no_endpoints", "connection_errors", "readiness_failing", "recent_rollout"],
        "k8s_patch_service",
    ),
    (
        "db-connections",
        "DatabaseConnectionsExhausted",
        ["db_connections_exhausted", "config_changed", "recent_rollout", "high_error_rate"],
        "k8s_patch_configmap",
    ),
    ("cache-down", "CacheDown", ["cache_down", "scaled_to_zero", "no_endpoints"], "k8s_scale"),
    ("queue-stalled", "QueueBacklogGrowing", ["queue_backlog", "recent_rollout"], "k8s_rollback"),
    (
        "readiness-probe",
        "KubePodNotReady",
        ["readiness_failing", "recent_rollout", "no_endpoints"],
        "k8s_rollback",
    ),
    ("node-not-ready", "KubeNodeNotReady", ["node_not_ready", "readiness_failing"], "k8s_cordon"),
]


SAMPLE_DATA = {
    "deployment": "predictor",
    "consumer": "ingest-worker",
    "service": "predictor",
    "configmap": "ingest-worker-config",
    "key": "POOL_SIZE",
    "previous_value": "8",
    "container": "predictor",
    "hpa_max": 5,
    "current_replicas": 5,
    "expected_selector": {"app": "predictor"},
    "node": "node-b",
}


def _first_change(alert: str, kinds: list[str], drop: frozenset[str] = frozenset()) -> dict[str, Any] | None:
    """What the planner would propose first: best runbook, first remediation that applies and renders."""
    findings = [
        {
            "kind": k,
            "data": {
                key: v
                for key, v in SAMPLE_DATA.items()
                if key in FINDING_DATA_KEYS.get(k, ()) and key not in drop
            },
        }
        for k in kinds
    ]
    ctx = TemplateContext.build(
        namespace="market-predictor", service="predictor", alertname=alert, findings=findings
    )
    for rb in match_runbooks(load_runbooks(), alert, {}, kinds):
        for rem in rb.applicable(kinds):
            try:
                return {"tool": rem.tool, "args": render_args(rem.args, ctx)}
            except TemplateError:
                continue
    return None


@pytest.mark.parametrize(
    ("fault", "alert", "kinds", "tool"), FAULT_SCENARIOS, ids=[s[0] for s in FAULT_SCENARIOS]
)
def test_each_sandbox_fault_leads_to_its_accepted_mitigation(
    fault: str, alert: str, kinds: list[str], tool: str
) -> None:
    first = _first_change(alert, kinds)
    assert first is not None and first["tool"] == tool, f"{fault}: {first}"


def test_scaling_out_steps_above_the_hpa_maximum() -> None:
    first = _first_change("KubeHpaMaxedOut", ["hpa_maxed", "cpu_saturation"])
    expected_args = {"deployment": "predictor", "namespace": "market-predictor", "replicas": 9}
    assert first == {"tool": "k8s_scale", "args": expected_args}


def test_without_a_known_good_value_no_runbook_restarts_a_crash_looping_deployment() -> None:
    kinds = ["crash_loop", "config_changed", "recent_rollout", "high_error_rate"]
    first = _first_change("KubePodCrashLooping", kinds)
    assert first is not None and first["tool"] == "k8s_patch_configmap"
    assert first["args"]["value"] == "8"
    assert _first_change("KubePodCrashLooping", kinds, drop=frozenset({"key", "previous_value"})) is None


def test_after_holds_a_remediation_back_until_the_first_one_was_applied() -> None:
    rb = next(r for r in load_runbooks() if r.id == "db-connections-exhausted")
    kinds = {"db_connections_exhausted", "config_changed"}
    assert [r.id for r in rb.applicable(kinds)] == ["revert-config"]
    applied = ["db-connections-exhausted:revert-config"]
    assert [r.id for r in rb.applicable(kinds, applied=applied)] == ["restart-after-revert"]


def test_after_must_name_an_earlier_remediation() -> None:
    text = GOOD.replace("requires: [recent_rollout]", "requires: [recent_rollout]\n    after: [later]")
    with pytest.raises(RunbookError, match=r"remediations\[0\]\.after\[0\]: 'later' is not an earlier"):
        parse_runbook(text, "x.md")


def test_number_filters_add_and_scale_round_up() -> None:
    ctx = TemplateContext.build(findings=[{"kind": "hpa_maxed", "data": {"hpa_max": 5, "hpa": "predictor"}}])
    args = {"a": "{finding.hpa_maxed.hpa_max|add:4}", "b": "{finding.hpa_maxed.hpa_max|scale:1.5}"}
    assert render_args(args, ctx) == {"a": 9, "b": 8}
    with pytest.raises(TemplateError, match="needs a number, got 'predictor'"):
        render_args({"a": "{finding.hpa_maxed.hpa|add:1}"}, ctx)


def test_the_rollout_to_suspect_is_on_the_failing_workload_then_the_newest() -> None:
    findings = [
        {
            "kind": "recent_rollout",
            "severity": "info",
            "data": {"deployment": "api-gateway", "changed_at": "2026-01-01T10:09:00Z"},
        },
        {
            "kind": "recent_rollout",
            "severity": "info",
            "data": {"deployment": "predictor", "changed_at": "2026-01-01T10:00:00Z"},
        },
        {
            "kind": "recent_rollout",
            "severity": "info",
            "data": {"deployment": "cache", "changed_at": "2026-01-01T10:05:00Z"},
        },
        {"kind": "high_error_rate", "severity": "critical", "data": {"deployment": "predictor"}},
    ]
    pick = render_args({"d": "{finding.recent_rollout.deployment}"}, TemplateContext.build(findings=findings))
    assert pick == {"d": "predictor"}
    without_symptom = TemplateContext.build(findings=findings[:3])
    assert render_args({"d": "{finding.recent_rollout.deployment}"}, without_symptom) == {"d": "api-gateway"}
