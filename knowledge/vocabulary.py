"""The fixed names runbooks may use: tool names and finding kinds (docs/CONTRACTS.md).

Tool names come from ``tools.registry`` when it can be imported, so a runbook naming a tool that
does not exist is rejected; the contract's list is the fallback while the registry is unavailable.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import get_args

from tools.findings import FindingKind

CONTRACT_TOOLS: frozenset[str] = frozenset(
    {
        "prometheus_query",
        "prometheus_range_query",
        "prometheus_alerts",
        "prometheus_rules",
        "prometheus_metric_names",
        "prometheus_labels",
        "prometheus_targets",
        "loki_query",
        "loki_labels",
        "loki_patterns",
        "k8s_list",
        "k8s_get",
        "k8s_describe",
        "k8s_events",
        "k8s_pod_logs",
        "k8s_rollout_history",
        "k8s_resource_usage",
        "recent_changes",
        "triage",
        "k8s_rollout_restart",
        "k8s_scale",
        "k8s_rollback",
        "k8s_set_image",
        "k8s_set_resources",
        "k8s_patch_configmap",
        "k8s_patch_service",
        "k8s_cordon",
        "k8s_delete_pod",
    }
)

# One list, owned by the analyzers that produce the findings (tools/findings.py).
FINDING_KINDS: frozenset[str] = frozenset(get_args(FindingKind))


@lru_cache(maxsize=1)
def registry_tool_names() -> frozenset[str] | None:
    """Names in ``tools.registry.default_registry()``, or None when the registry is not available."""
    try:
        registry = importlib.import_module("tools.registry")
        tools = registry.default_registry().all()
    except ImportError:  # not built yet, or a tool module it needs is missing from this install
        return None
    return frozenset(t.name for t in tools)


def known_tool_names() -> set[str]:
    """Tool names a runbook may use: the registry's when available, else the contract's."""
    names = registry_tool_names()
    return set(names if names is not None else CONTRACT_TOOLS)


FINDING_DATA_KEYS: dict[str, frozenset[str]] = {
    "recent_rollout": frozenset(
        {
            "deployment",
            "revision",
            "previous_revision",
            "image",
            "previous_image",
            "changed_at",
            "change",
            "container",
            "container_previous_image",
        }
    ),
    # key and previous_value: requested from triage (a last-known-good value); until then the
    # remediations that restore a ConfigMap value are not applicable and the planner escalates.
    "config_changed": frozenset(
        {"configmap", "deployment", "deployments", "changed_at", "key", "previous_value"}
    ),
    "crash_loop": frozenset({"deployment", "pods", "restarts", "reasons", "exit_codes", "container"}),
    "image_pull_error": frozenset({"deployment", "image", "container", "pods"}),
    "pods_pending": frozenset({"deployment", "pods", "reason"}),
    "readiness_failing": frozenset({"deployment", "pods", "not_ready", "probe_message"}),
    "cache_down": frozenset({"deployment", "service"}),
    "oom_killed": frozenset({"deployment", "container", "memory_limit", "pods"}),
    "hpa_maxed": frozenset(
        {"deployment", "hpa", "current_replicas", "hpa_max", "hpa_min", "desired_replicas"}
    ),
    "cpu_saturation": frozenset({"deployment", "cpu_ratio", "current_replicas", "hpa_max", "hpa"}),
    "no_endpoints": frozenset(
        {"service", "selector", "matching_pods", "selector_mismatch", "deployment", "expected_selector"}
    ),
    "node_not_ready": frozenset({"node", "since", "pods"}),
    "node_cordoned": frozenset({"node", "pods"}),
    "scaled_to_zero": frozenset({"deployment"}),
    "queue_backlog": frozenset({"queue", "consumer", "deployment", "depth", "growth_per_s", "lag_seconds"}),
}
"""Finding ``data`` keys triage provides (docs/CONTRACTS.md); the packaged runbooks use only these."""
