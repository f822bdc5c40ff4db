"""The policy: how much the agent may do on its own, and the guardrails around every change.

``policy.yaml`` is validated on load; a bad file is refused with the field and the reason::

    version: 1
    default_autonomy: approve          # observe | suggest | approve | auto
    clusters:
      - context: "*"                   # kubeconfig context (glob); "*" also matches the default one
        namespaces:
          - {match: "market-predictor-staging", autonomy: auto}
          - {match: "market-predictor", autonomy: approve}
    guardrails:
      protected_namespaces: [kube-system, kube-public, kube-node-lease]
      protected_labels: {devops-agent.io/protected: "true"}
      auto_actions: [k8s_rollback, k8s_scale, k8s_rollout_restart]
      forbidden_actions: []            # tool names, or "tool:namespace/name" globs
      replicas: {min: 1, max: 20, max_step: 5}
      blast_radius: {auto_max_fraction: 0.34, max_fraction: 1.0}
      cooldown_s: 300
      max_actions_per_hour: 10
      freeze_windows: []               # [{start: ISO time, end: ISO time, reason: ...}] or weekly
      approvers: []                    # empty = anyone may approve
      approval_ttl_s: 3600
      error_budget:                    # a service whose SLO budget is spent gets more caution
        min_remaining: 0.0             # at or below this share of budget left it counts as spent
        exempt_actions: [k8s_rollback, k8s_scale, k8s_rollout_restart]   # fixes that may still run alone
"""

from __future__ import annotations

import fnmatch
from datetime import datetime, time
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Autonomy = Literal["observe", "suggest", "approve", "auto"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the file, the field and the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NamespaceRule(_Strict):
    match: str = Field(description="Namespace name or glob.")
    autonomy: Autonomy


class ClusterRule(_Strict):
    context: str = Field("*", description="Kubeconfig context name or glob.")
    autonomy: Autonomy | None = Field(None, description="Autonomy for namespaces no rule matches.")
    namespaces: list[NamespaceRule] = Field(default_factory=list)


class ReplicaBounds(_Strict):
    min: int = Field(1, ge=0)
    max: int = Field(20, ge=1)
    max_step: int = Field(5, ge=1, description="Largest change in replicas one action may make.")

    @model_validator(mode="after")
    def _ordered(self) -> ReplicaBounds:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class BlastRadius(_Strict):
    auto_max_fraction: float = Field(
        0.34, ge=0, le=1, description="Share of a workload's pods an automatic action may disrupt at once."
    )
    max_fraction: float = Field(1.0, ge=0, le=1, description="Share no action may exceed, even approved.")


class FreezeWindow(_Strict):
    start: datetime | None = None
    end: datetime | None = None
    days: list[Weekday] = Field(default_factory=list, description="Weekly window: days it applies.")
    from_time: time | None = Field(None, alias="from")
    to_time: time | None = Field(None, alias="to")
    reason: str = "change freeze"

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _shape(self) -> FreezeWindow:
        absolute = self.start is not None or self.end is not None
        weekly = bool(self.days)
        if absolute == weekly:
            raise ValueError("give either start and end (absolute) or days with from/to (weekly)")
        if absolute and (self.start is None or self.end is None or self.start >= self.end):
            raise ValueError("an absolute window needs start < end")
        return self

    def active(self, now: datetime) -> bool:
        if self.start is not None and self.end is not None:
            start, end = self.start, self.end
            if start.tzinfo is None and now.tzinfo is not None:
                start, end = start.replace(tzinfo=now.tzinfo), end.replace(tzinfo=now.tzinfo)
            return start <= now < end
        if _WEEKDAYS[now.weekday()] not in self.days:
            return False
        lo = self.from_time or time(0, 0)
        hi = self.to_time or time(23, 59, 59)
        return lo <= now.time().replace(tzinfo=None) <= hi


class ErrorBudgetGuard(_Strict):
    """Where an SLO's error budget is spent, auto mode drops to approve for every action but the
    reliability fixes (the SRE workbook's error budget policy: stop shipping risk, keep fixing)."""

    min_remaining: float = Field(
        0.0, le=1, description="At or below this share of budget left, the service's budget counts as spent."
    )
    exempt_actions: list[str] = Field(
        default_factory=lambda: ["k8s_rollback", "k8s_scale", "k8s_rollout_restart"],
        description="Actions that may still run alone on a service whose budget is spent.",
    )


class Guardrails(_Strict):
    protected_namespaces: list[str] = Field(
        default_factory=lambda: ["kube-system", "kube-public", "kube-node-lease"]
    )
    protected_labels: dict[str, str] = Field(default_factory=lambda: {"devops-agent.io/protected": "true"})
    auto_actions: list[str] = Field(
        default_factory=lambda: ["k8s_rollback", "k8s_scale", "k8s_rollout_restart"],
        description="Actions that may run without a human where autonomy is auto.",
    )
    allowed_actions: list[str] = Field(
        default_factory=list, description="When non-empty, only these actions may run at all."
    )
    forbidden_actions: list[str] = Field(default_factory=list)
    replicas: ReplicaBounds = Field(default_factory=ReplicaBounds)
    blast_radius: BlastRadius = Field(default_factory=BlastRadius)
    cooldown_s: int = Field(
        300, ge=0, description="Seconds before the same action may touch the same target again."
    )
    max_actions_per_hour: int = Field(10, ge=0)
    freeze_windows: list[FreezeWindow] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list, description="Who may approve; empty = anyone.")
    approval_ttl_s: int = Field(3600, ge=10)
    error_budget: ErrorBudgetGuard = Field(default_factory=ErrorBudgetGuard)


class Policy(_Strict):
    version: Literal[1] = 1
    default_autonomy: Autonomy = "approve"
    clusters: list[ClusterRule] = Field(default_factory=list)
    guardrails: Guardrails = Field(default_factory=Guardrails)

    def autonomy_for(self, context: str | None, namespace: str | None) -> Autonomy:
        """The first cluster rule matching the context, then its first namespace rule; else defaults."""
        ctx = context or ""
        ns = namespace or ""
        for rule in self.clusters:
            if rule.context != "*" and not fnmatch.fnmatchcase(ctx, rule.context):
                continue
            for ns_rule in rule.namespaces:
                if fnmatch.fnmatchcase(ns, ns_rule.match):
                    return ns_rule.autonomy
            if rule.autonomy is not None:
                return rule.autonomy
        return self.default_autonomy

    def is_forbidden(self, tool: str, namespace: str | None, name: str | None) -> bool:
        target = f"{tool}:{namespace or ''}/{name or ''}"
        return any(
            tool == pat or fnmatch.fnmatchcase(target, pat) for pat in self.guardrails.forbidden_actions
        )

    def active_freeze(self, now: datetime) -> FreezeWindow | None:
        return next((w for w in self.guardrails.freeze_windows if w.active(now)), None)

    def may_approve(self, who: str) -> bool:
        allowed = self.guardrails.approvers
        return not allowed or who in allowed


def default_policy() -> Policy:
    """Changes wait for a human everywhere; kube-system and labelled objects are protected."""
    return Policy()


def load_policy(path: Path | None) -> Policy:
    """Load and validate a policy file; ``None`` gives the built-in default."""
    if path is None:
        return default_policy()
    if not path.is_file():
        raise PolicyError(f"{path}: policy file not found; fix DEVOPS_AGENT_POLICY_FILE or create the file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:
        return default_policy()
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: the policy must be a YAML mapping, got {type(raw).__name__}")
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']} (got {e.get('input')!r})"
            for e in exc.errors()
        )
        raise PolicyError(f"{path}: invalid policy: {problems}") from None
