"""The error budget as an input to the guard: a spent budget takes auto mode down to approve,
except for the reliability fixes the policy exempts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.guard import ErrorBudget, ProposedAction, guard_action
from agent.policy import Policy, PolicyError, load_policy
from tools.base import ActionEffect, Target, ToolResult, tool

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@tool(risk="write")
def k8s_rollback(deps: object, deployment: str, namespace: str, *, dry_run: bool = False) -> ToolResult:
    """Roll back."""
    return ToolResult.ok("")


@tool(risk="write")
def k8s_set_resources(deps: object, deployment: str, namespace: str, *, dry_run: bool = False) -> ToolResult:
    """Set resources."""
    return ToolResult.ok("")


def _policy(**error_budget: object) -> Policy:
    return Policy.model_validate(
        {
            "clusters": [{"context": "*", "namespaces": [{"match": "prod", "autonomy": "auto"}]}],
            "guardrails": {
                "auto_actions": ["k8s_rollback", "k8s_set_resources"],
                **({"error_budget": error_budget} if error_budget else {}),
            },
        }
    )


def _judge(t: object, policy: Policy, budget: ErrorBudget | None, ns: str = "prod") -> tuple[str, str]:
    effect = ActionEffect(target=Target(kind="Deployment", name="predictor", namespace=ns))
    args = {"deployment": "predictor", "namespace": ns}
    v = guard_action(ProposedAction(tool=t.name, args=args), t, effect, policy, [], NOW, budget)  # type: ignore[attr-defined]
    return v.decision, v.explain()


SPENT = ErrorBudget(slo="predictor-requests-availability (namespace=prod)", remaining=-0.3)
HEALTHY = ErrorBudget(slo="predictor-requests-availability (namespace=prod)", remaining=0.6)


def test_spent_budget_sends_a_non_fix_to_a_human() -> None:
    decision, why = _judge(k8s_set_resources, _policy(), SPENT)
    assert decision == "needs_approval"
    assert "error budget of predictor-requests-availability (namespace=prod) is spent (-30% left)" in why


def test_healthy_or_unknown_budget_changes_nothing() -> None:
    assert _judge(k8s_set_resources, _policy(), HEALTHY)[0] == "allow"
    assert _judge(k8s_set_resources, _policy(), None)[0] == "allow"


def test_a_rollback_still_runs_alone_on_a_spent_budget() -> None:
    assert _judge(k8s_rollback, _policy(), SPENT)[0] == "allow"
    assert _judge(k8s_rollback, _policy(exempt_actions=[]), SPENT)[0] == "needs_approval"


def test_threshold_is_configurable_and_budget_never_loosens_approve_mode() -> None:
    keep_a_fifth = _policy(min_remaining=0.2)
    assert (
        _judge(k8s_set_resources, keep_a_fifth, ErrorBudget(slo="x", remaining=0.15))[0] == "needs_approval"
    )
    assert _judge(k8s_set_resources, keep_a_fifth, ErrorBudget(slo="x", remaining=0.25))[0] == "allow"
    # in approve mode (any namespace but prod here) a healthy budget does not let anything run alone
    assert _judge(k8s_set_resources, _policy(), HEALTHY, ns="other")[0] == "needs_approval"


def test_bad_error_budget_policy_is_refused(tmp_path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("guardrails:\n  error_budget:\n    min_remaining: 2\n")
    with pytest.raises(PolicyError, match=r"guardrails\.error_budget\.min_remaining"):
        load_policy(path)
