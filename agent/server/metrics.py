"""The agent's own metrics, exposed on `serve`'s /metrics (prometheus_client, own registry)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class AgentMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.alerts_received = Counter(
            "devops_agent_alerts_received_total", "Alerts received from Alertmanager.", ["status"], registry=r
        )
        self.webhook_rejected = Counter(
            "devops_agent_webhook_rejected_total", "Webhook calls refused, by reason.", ["reason"], registry=r
        )
        self.investigations = Counter(
            "devops_agent_investigations_total",
            "Finished investigations by outcome.",
            ["outcome"],
            registry=r,
        )
        self.actions = Counter(
            "devops_agent_actions_total", "Actions by tool and outcome.", ["tool", "outcome"], registry=r
        )
        self.approval_wait = Histogram(
            "devops_agent_approval_wait_seconds",
            "Time from approval request to decision.",
            buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600, 14400),
            registry=r,
        )
        self.tool_latency = Histogram(
            "devops_agent_tool_latency_seconds",
            "Tool call latency.",
            ["tool"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.escalations = Counter(
            "devops_agent_escalations_total",
            "Runs that ended on a system that still fails, handed to a human.",
            registry=r,
        )
        self.alerts_folded = Counter(
            "devops_agent_alert_groups_folded_total",
            "Alert groups folded into an open incident on the same failing path (no run of their own).",
            registry=r,
        )
        self.llm_tokens = Counter("devops_agent_llm_tokens_total", "LLM tokens used.", registry=r)
        self.queue_depth = Gauge("devops_agent_queue_depth", "Work items queued or running.", registry=r)
        self.incidents_open = Gauge("devops_agent_incidents_open", "Incidents not yet closed.", registry=r)
        self.audit_rows = Gauge(
            "devops_agent_audit_rows", "Rows in the audit chain at its last published head.", registry=r
        )
        self.audit_head = Gauge(
            "devops_agent_audit_head_info",
            "The audit chain's last published head hash (value: its row number).",
            ["hash"],
            registry=r,
        )
        self.drifted_objects = Gauge(
            "devops_agent_drifted_objects",
            "Objects that differ from the desired state at the last drift check, by namespace.",
            ["namespace"],
            registry=r,
        )
        self.drift_checks = Counter(
            "devops_agent_drift_checks_total",
            "Drift checks against the desired state, by outcome.",
            ["outcome"],
            registry=r,
        )
        self._started: dict[tuple[str, str], float] = {}

    def observe_event(self, event: dict[str, Any]) -> None:
        """Feed one runner progress event (tool started/finished, action) into the metrics."""
        kind = event.get("type")
        key = (str(event.get("incident_id")), str(event.get("tool")))
        if kind == "tool_started":
            self._started[key] = time.monotonic()
        elif kind == "tool_finished":
            began = self._started.pop(key, None)
            duration = event.get("duration_s")
            if duration is None and began is not None:
                duration = time.monotonic() - began
            if duration is not None:
                self.tool_latency.labels(str(event.get("tool"))).observe(float(duration))
        elif kind == "action":
            outcome = str(event.get("outcome") or event.get("status"))
            self.actions.labels(str(event.get("tool")), outcome).inc()

    def observe_outcome(self, outcome: dict[str, Any]) -> None:
        """LLM tokens of a finished run."""
        tokens = outcome.get("tokens") or 0
        if tokens:
            self.llm_tokens.inc(float(tokens))

    def observe_audit_head(self, rows: int, digest: str) -> None:
        """The head the anchor publisher just published (one series: the old hash is dropped)."""
        self.audit_rows.set(rows)
        self.audit_head.clear()
        self.audit_head.labels(digest).set(rows)

    def observe_drift(self, report: dict[str, Any] | None, error: str | None) -> None:
        """The result of one drift check: drifted objects per namespace (all namespaces checked stay listed)."""
        self.drift_checks.labels("error" if error else "ok").inc()
        if report is None or error:
            return
        counts: dict[str, int] = {}
        for item in report.get("drifted") or []:
            ns = str(item.get("namespace") or "")
            counts[ns] = counts.get(ns, 0) + 1
        self.drifted_objects.clear()
        for ns in report.get("namespaces") or []:
            counts.setdefault(str(ns), 0)
        for ns, n in counts.items():
            self.drifted_objects.labels(ns).set(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)
