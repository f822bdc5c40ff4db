"""The fixed names runbooks may use: tool names and finding kinds (docs/CONTRACTS.md).

Tool names come from ``tools.registry`` when it can be imported, so a runbook naming a tool that
does not exist is rejected; the contract's list is the fallback while the registry is unavailable.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

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

FINDING_KINDS: frozenset[str] = frozenset(
    {
        "crash_loop",
        "oom_killed",
        "image_pull_error",
        "pods_pending",
        "rollout_stuck",
        "recent_rollout",
        "config_changed",
        "high_error_rate",
        "high_latency",
        "cpu_saturation",
        "hpa_maxed",
        "no_endpoints",
        "readiness_failing",
        "node_not_ready",
        "node_cordoned",
        "db_connections_exhausted",
        "cache_down",
        "queue_backlog",
        "auth_errors",
        "connection_errors",
        "scaled_to_zero",
    }
)


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
        {"deployment", "revision", "previous_revision", "image", "previous_image", "changed_at"}
    ),
    "config_changed": frozenset({"name", "key", "previous_value", "deployment"}),
    "crash_loop": frozenset({"deployment"}),
    "image_pull_error": frozenset({"deployment"}),
    "pods_pending": frozenset({"deployment"}),
    "readiness_failing": frozenset({"deployment"}),
    "cache_down": frozenset({"deployment"}),
    "oom_killed": frozenset({"deployment", "container", "suggested_memory_limit"}),
    "hpa_maxed": frozenset({"deployment", "suggested_replicas"}),
    "cpu_saturation": frozenset({"deployment", "suggested_replicas"}),
    "no_endpoints": frozenset({"service", "expected_selector"}),
    "node_not_ready": frozenset({"node"}),
    "node_cordoned": frozenset({"node"}),
    "scaled_to_zero": frozenset({"deployment", "previous_replicas"}),
    "queue_backlog": frozenset({"queue", "consumer"}),
}
"""Finding ``data`` keys triage promises (docs/CONTRACTS.md); the packaged runbooks use only these."""
