"""One ranking of candidate remediations for both reasoners: runbook first, else the revert of the
suspect change, else escalation; past outcomes re-rank; capacity changes need a symptom users feel
and never help while pods cannot be scheduled. The planner executes the list."""

from __future__ import annotations

from typing import Any

from agent.reasoners.base import ReasonContext
from agent.reasoners.planner import PlannerReasoner
from agent.remediation import rank_candidates, revert_key
from knowledge.runbooks import load_runbooks


def f(finding: str, target: str, severity: str = "warning", **data: Any) -> dict[str, Any]:
    return {
        "kind": finding,
        "target": target,
        "severity": severity,
        "summary": f"{finding} on {target}",
        "data": data,
    }


def suspect(kind: str, name: str, diff: list[dict[str, Any]], rank: int = 1, **extra: Any) -> dict[str, Any]:
    return f(
        "suspect_change",
        f"{kind}/mp/{name}",
        kind=kind,
        name=name,
        namespace="mp",
        change=f"j{rank}",
        diff=diff,
        rank=rank,
        revertible=extra.pop("revertible", True),
        deployment=extra.pop("deployment", name),
        **extra,
    )


PORT = [{"path": "/spec/ports/0/targetPort", "op": "replace", "old": 8080, "new": 9999}]
SYMPTOMS = [
    f("no_endpoints", "Service/mp/predictor", "critical", service="predictor", deployment="predictor"),
    f(
        "high_error_rate",
        "Service/mp/api-gateway",
        "critical",
        service="api-gateway",
        deployment="api-gateway",
    ),
]


class Stats:
    """Outcome statistics that know one failed key (a stand-in for OutcomeStats.rank)."""

    def __init__(self, failed: str) -> None:
        self.failed = failed

    def rank(self, signature: str, keys: list[str]) -> list[tuple[str, float]]:
        return sorted(((k, 0.1 if k == self.failed else 0.5) for k in keys), key=lambda t: -t[1])


def _state(findings: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "incident": {"id": "i1", "namespace": "mp", "service": "predictor", "alertname": "SomethingNew"},
        "findings": findings,
        "actions": actions or [],
    }


def test_without_a_runbook_the_suspect_change_is_reverted_before_escalating() -> None:
    ranked = rank_candidates([], _state([*SYMPTOMS, suspect("Service", "predictor", PORT)]), "sig", None)  # type: ignore[arg-type]
    assert [c["source"] for c in ranked] == ["revert", "escalate"]
    revert = ranked[0]
    assert revert["tool"] == "k8s_revert_change"
    assert revert["args"] == {"kind": "Service", "name": "predictor", "change": "j1", "namespace": "mp"}
    # learned under the shape of the change, so it transfers to any Service's targetPort
    assert revert["action_key"] == "revert:Service:/spec/ports/*/targetPort"


def test_a_secret_change_is_never_a_revert_candidate_only_escalation() -> None:
    secret = suspect(
        "Secret",
        "db",
        [{"path": "/data/password", "op": "replace", "old": "sha256:a", "new": "sha256:b"}],
        revertible=False,
    )
    ranked = rank_candidates([], _state([*SYMPTOMS, secret]), "sig", None)  # type: ignore[arg-type]
    assert [c["source"] for c in ranked] == ["escalate"]


def test_past_outcomes_re_rank_the_reverts_but_escalation_stays_last() -> None:
    first = suspect("Service", "predictor", PORT, rank=1)
    second = suspect(
        "Deployment", "predictor", [{"path": "/spec/replicas", "op": "replace", "old": 3, "new": 0}], rank=2
    )
    plain = rank_candidates([], _state([*SYMPTOMS, first, second]), "sig", None)  # type: ignore[arg-type]
    assert [c["args"]["kind"] for c in plain[:2]] == [
        "Service",
        "Deployment",
    ]  # closest before the onset first
    learned = rank_candidates([], _state([*SYMPTOMS, first, second]), "sig", Stats(revert_key(first["data"])))  # type: ignore[arg-type]
    assert [c["args"]["kind"] for c in learned[:2]] == ["Deployment", "Service"]
    assert learned[-1]["source"] == "escalate"


def test_saturation_alone_within_the_slo_gets_no_scaling_change() -> None:
    books = [r for r in load_runbooks() if r.id == "traffic-surge-scale"]
    busy = [
        f(
            "cpu_saturation",
            "Deployment/mp/predictor",
            deployment="predictor",
            current_replicas=3,
            cpu_ratio=0.9,
        )
    ]
    ranked = rank_candidates(books, _state(busy), "sig", None)  # type: ignore[arg-type]
    assert [c["source"] for c in ranked] == ["escalate"]
    assert "load within the SLO" in ranked[0]["reason"]
    hurting = [
        *busy,
        f("high_latency", "Service/mp/predictor", "warning", service="predictor", deployment="predictor"),
    ]
    assert rank_candidates(books, _state(hurting), "sig", None)[0]["tool"] == "k8s_scale"  # type: ignore[arg-type]


def test_scaling_is_ruled_out_while_pods_cannot_be_scheduled() -> None:
    books = [r for r in load_runbooks() if r.id == "traffic-surge-scale"]
    findings = [
        f("cpu_saturation", "Deployment/mp/predictor", deployment="predictor", current_replicas=3),
        f("high_latency", "Service/mp/predictor", service="predictor", deployment="predictor"),
        f("pods_pending", "Deployment/mp/predictor", deployment="predictor", pods=["p1"]),
    ]
    # the runbook's own `unless` and the ranking's guard both keep scale-ups away from Pending pods
    assert [c["source"] for c in rank_candidates(books, _state(findings), "sig", None)] == ["escalate"]  # type: ignore[arg-type]


def test_a_configmap_revert_is_followed_by_restarting_its_readers() -> None:
    cm = suspect(
        "ConfigMap",
        "gw-config",
        [{"path": "/data/URL", "op": "replace", "old": "a", "new": "b"}],
        deployment="api-gateway",
        consumers=["api-gateway"],
    )
    ranked = rank_candidates([], _state([*SYMPTOMS, cm]), "sig", None)  # type: ignore[arg-type]
    assert ranked[0]["followed_by"] == ["restart-consumer"]
    applied = [{"action_key": ranked[0]["action_key"], "status": "applied", "outcome": "pending"}]
    after = rank_candidates([], _state([*SYMPTOMS, cm], applied), "sig", None)  # type: ignore[arg-type]
    assert after[0]["tool"] == "k8s_rollout_restart" and after[0]["args"]["deployment"] == "api-gateway"


def test_the_planner_executes_the_list_then_stops_honestly() -> None:
    planner = PlannerReasoner()
    ctx = ReasonContext(tools=None, runbooks=[], stats=None)  # type: ignore[arg-type]
    state = _state([*SYMPTOMS, suspect("Service", "predictor", PORT)])
    step = planner.next_step(state, ctx)  # type: ignore[arg-type]
    assert step.kind == "propose" and step.action is not None and step.action["tool"] == "k8s_revert_change"
    tried = {
        **state,
        "plan": step.updates["plan"],
        "actions": [
            {"tool": "k8s_revert_change", "action_key": step.action["action_key"], "outcome": "no_effect"}
        ],
    }
    done = planner.next_step(tried, ctx)  # type: ignore[arg-type]
    assert done.kind == "finish" and done.status is None  # report decides: escalated while it still fails
    assert "No safe change" in (done.answer or "") or "no further remediation" in (done.answer or "")


def test_rolling_back_a_mere_restart_is_ruled_out() -> None:
    books = [r for r in load_runbooks() if r.id == "bad-deploy-rollback"]
    findings = [
        f("high_error_rate", "Service/mp/cache", "critical", service="cache", deployment="cache"),
        f(
            "recent_rollout",
            "Deployment/mp/cache",
            "warning",
            deployment="cache",
            change="restart",
            revision=3,
        ),
    ]
    ranked = rank_candidates(books, _state(findings), "sig", None)  # type: ignore[arg-type]
    assert all(c.get("tool") != "k8s_rollback" for c in ranked)
    assert "only a restart" in ranked[-1]["reason"]


def drifted(kind: str, name: str, fields: list[str], **extra: Any) -> dict[str, Any]:
    return f(
        "drifted_from_desired",
        f"{kind}/mp/{name}",
        kind=kind,
        name=name,
        namespace="mp",
        file=f"mp/{kind.lower()}-{name}.yaml",
        state="drifted",
        fields=fields,
        syncable=extra.pop("syncable", kind != "Secret"),
        deployment=name,
        **extra,
    )


def test_sync_to_desired_comes_after_the_revert_and_before_escalation() -> None:
    state = _state(
        [
            *SYMPTOMS,
            suspect("Service", "predictor", PORT),
            drifted("Service", "predictor", ["/spec/ports/0/targetPort"]),
        ]
    )
    ranked = rank_candidates([], state, "sig", None)  # type: ignore[arg-type]
    assert [c["source"] for c in ranked] == ["revert", "sync", "escalate"]
    assert ranked[1]["tool"] == "desired_sync" and ranked[1]["args"] == {
        "kind": "Service",
        "name": "predictor",
        "namespace": "mp",
    }
    secret_only = rank_candidates(
        [], _state([*SYMPTOMS, drifted("Secret", "db", ["/data/password"])]), "sig", None
    )  # type: ignore[arg-type]
    assert [c["source"] for c in secret_only] == ["escalate"]


def test_the_planner_syncs_a_drifted_object_when_no_revert_fits_and_names_the_drift() -> None:
    planner = PlannerReasoner()
    ctx = ReasonContext(tools=None, runbooks=[], stats=None)  # type: ignore[arg-type]
    state = _state([*SYMPTOMS, drifted("Service", "predictor", ["/spec/ports/0/targetPort"])])
    step = planner.next_step(state, ctx)  # type: ignore[arg-type]
    assert step.kind == "propose" and step.action is not None and step.action["tool"] == "desired_sync"
    fixed = {
        **state,
        "plan": step.updates["plan"],
        "actions": [{**step.action, "status": "applied", "outcome": "fixed"}],
    }
    done = planner.next_step(fixed, ctx)  # type: ignore[arg-type]
    assert done.kind == "finish" and "drifted_from_desired on Service/mp/predictor" in (done.root_cause or "")
