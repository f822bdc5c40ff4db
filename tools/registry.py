"""The registry of every tool the agent can call (names fixed in docs/CONTRACTS.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tools.base import Tool


class Registry:
    """Tools by name, in registration order."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.add(t)

    def add(self, t: Tool) -> None:
        """Register a tool; a second tool with the same name is a programming error."""
        if t.name in self._tools:
            raise ValueError(f"tool {t.name!r} is registered twice")
        self._tools[t.name] = t

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def all(self) -> list[Tool]:
        return list(self._tools.values())

    def names(self) -> list[str]:
        return list(self._tools)

    def read_tools(self) -> list[Tool]:
        return [t for t in self._tools.values() if not t.is_action]

    def actions(self) -> list[Tool]:
        return [t for t in self._tools.values() if t.is_action]

    def openai_schemas(self, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Function schemas for an OpenAI-compatible endpoint (all tools, or the named ones)."""
        wanted = self.all() if names is None else [t for n in names if (t := self.get(n)) is not None]
        return [t.openai_schema() for t in wanted]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)


def default_registry() -> Registry:
    """Every tool of the project, reads first, then actions."""
    from tools import changes, loki, prometheus
    from tools.analysis import triage
    from tools.desired import tool as desired
    from tools.journal.tool import what_changed
    from tools.kubernetes import (
        actions,
        describe,
        logs,
        object_actions,
        posture_actions,
        reads,
        revert,
        rollout,
        usage,
    )
    from tools.posture.tool import posture_check

    return Registry(
        [
            prometheus.prometheus_query,
            prometheus.prometheus_range_query,
            prometheus.prometheus_alerts,
            prometheus.prometheus_rules,
            prometheus.prometheus_metric_names,
            prometheus.prometheus_labels,
            prometheus.prometheus_targets,
            loki.loki_query,
            loki.loki_labels,
            loki.loki_patterns,
            reads.k8s_list,
            reads.k8s_get,
            describe.k8s_describe,
            reads.k8s_events,
            logs.k8s_pod_logs,
            rollout.k8s_rollout_history,
            usage.k8s_resource_usage,
            changes.recent_changes,
            what_changed,
            triage,
            posture_check,
            desired.drift,
            actions.k8s_rollout_restart,
            actions.k8s_scale,
            rollout.k8s_rollback,
            actions.k8s_set_image,
            actions.k8s_set_resources,
            object_actions.k8s_patch_configmap,
            object_actions.k8s_patch_service,
            object_actions.k8s_cordon,
            object_actions.k8s_delete_pod,
            revert.k8s_revert_change,
            posture_actions.k8s_set_pdb,
            posture_actions.k8s_pin_image_digest,
            desired.desired_sync,
        ]
    )
