"""The ``Finding`` model triage analyzers produce (kinds fixed in docs/CONTRACTS.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

FindingKind = Literal[
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
    "suspect_change",
    "drifted_from_desired",
]
Severity = Literal["info", "warning", "critical"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}


class Finding(BaseModel):
    """One fact a deterministic analyzer established, with the evidence that shows it."""

    kind: FindingKind
    target: str = Field(description="Deployment/ns/name, Service/ns/name, Node//name, ...")
    summary: str
    evidence: list[str] = Field(
        default_factory=list, description="Each with the query or object that shows it."
    )
    severity: Severity = "warning"
    data: dict[str, Any] = Field(default_factory=dict, description="Fields runbooks template from.")

    def line(self) -> str:
        return f"[{self.severity}] {self.kind} {self.target}: {self.summary}"
