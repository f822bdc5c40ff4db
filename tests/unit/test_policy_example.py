from pathlib import Path

from agent.policy import load_policy

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_example_policy_is_valid() -> None:
    p = load_policy(ROOT / "policy.example.yaml")
    assert p.autonomy_for(None, "market-predictor-staging") == "auto"
    assert p.autonomy_for(None, "market-predictor") == "approve"
    assert p.autonomy_for(None, "kube-system") == "observe"
    assert p.is_forbidden("k8s_delete_pod", "market-predictor", "feature-store-abc")
