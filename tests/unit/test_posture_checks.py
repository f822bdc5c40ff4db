"""The posture checks: every one fires on its known-bad manifest and none on the good one, and
each family's edge cases (pod-level defaults, selectors, HPA floors, system roles)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tools.errors import ToolError
from tools.posture.model import Inventory
from tools.posture.registry import all_checks
from tools.posture.run import run_checks
from tools.posture.sources import load_manifests

pytestmark = pytest.mark.timeout(30)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "posture"
CHECKS = all_checks()
# a bad case may trip a check its defect implies, and nothing else
IMPLIED = {
    "pod-sys-admin": {"pod-added-capabilities"},
    "host-runtime-socket": {"host-path"},
    "image-tag-fixed": {"image-digest"},
    "image-pull-policy": {"image-digest"},
}


def fired(path: Path) -> set[str]:
    return {f.check.id for f in run_checks(load_manifests(path)).findings}


def test_at_least_30_checks_each_with_severity_why_and_fix() -> None:
    assert len(CHECKS) >= 30
    assert len({c.id for c in CHECKS}) == len(CHECKS)
    for c in CHECKS:
        assert c.severity in ("critical", "high", "medium", "low"), c.id
        assert len(c.title) > 10 and len(c.why) > 30 and len(c.fix) > 15, c.id
    assert {c.family for c in CHECKS} == {
        "pods", "resources", "images", "host", "accounts", "rbac", "secrets", "network"
    }  # fmt: skip


def test_the_good_application_passes_every_check() -> None:
    report = run_checks(load_manifests(FIXTURES / "good"))
    assert report.findings == [] and report.objects == 8
    assert report.scores["shop"].score == 100.0


@pytest.mark.parametrize("check_id", [c.id for c in CHECKS])
def test_every_check_fires_on_its_bad_case_and_only_what_it_implies(check_id: str) -> None:
    path = FIXTURES / "bad" / f"{check_id}.yaml"
    assert path.exists(), f"no known-bad manifest for {check_id}: run tests/fixtures/posture/generate.py"
    got = fired(path)
    assert check_id in got
    assert got - {check_id} <= IMPLIED.get(check_id, set())


def test_no_fixture_is_left_without_a_check() -> None:
    assert {p.stem for p in (FIXTURES / "bad").glob("*.yaml")} == {c.id for c in CHECKS}


def _deployment(**pod: Any) -> dict[str, Any]:
    good = load_manifests(FIXTURES / "good")
    dep = copy.deepcopy(next(o for o in good.objects if o["kind"] == "Deployment"))
    dep["spec"]["template"]["spec"].update(pod)
    return dep


def _run(*objs: dict[str, Any]) -> dict[str, list[str]]:
    inv = Inventory()
    inv.extend(objs)
    return {f.check.id: list(f.problems) for f in run_checks(inv).findings}


def test_a_container_setting_overrides_the_pod_default() -> None:
    dep = _deployment()
    dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
    assert "pod-run-as-non-root" not in _run(dep)  # the container still says true and uid 10001
    c = dep["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    del c["runAsNonRoot"], c["runAsUser"]
    del dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert _run(dep)["pod-run-as-non-root"] == [
        "container web: neither runAsNonRoot: true nor a non-zero runAsUser is set (pod or container securityContext)"
    ]


def test_init_containers_are_checked_too() -> None:
    dep = _deployment(
        initContainers=[{"name": "migrate", "image": "db-migrate:1", "securityContext": {"privileged": True}}]
    )
    assert any("container migrate" in p for p in _run(dep)["pod-privileged"])


def test_a_registry_port_is_not_a_tag() -> None:
    dep = _deployment()
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "localhost:5000/web"
    assert _run(dep)["image-tag-fixed"] == [
        "container web: image localhost:5000/web has no tag (it means latest)"
    ]


def test_pods_owned_by_a_controller_are_judged_through_it() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "web-abc", "namespace": "shop", "ownerReferences": [{"kind": "ReplicaSet"}]},
           "spec": {"containers": [{"name": "web", "image": "web:latest"}]}}  # fmt: skip
    assert run_checks(Inventory(objects=[pod])).findings == []
    del pod["metadata"]["ownerReferences"]
    assert "image-tag-fixed" in {f.check.id for f in run_checks(Inventory(objects=[pod])).findings}


def test_an_egress_only_policy_does_not_guard_a_service() -> None:
    good = load_manifests(FIXTURES / "good").objects
    assert "network-policy-missing" not in _run(*good)
    policy = next(o for o in good if o["kind"] == "NetworkPolicy")
    policy["spec"]["policyTypes"] = ["Egress"]
    assert "network-policy-missing" in _run(*good)
    policy["spec"] = {"podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}
    assert "network-policy-missing" not in _run(*good)  # no policyTypes means Ingress


def test_an_hpa_floor_of_two_needs_a_pdb_even_at_one_replica() -> None:
    objs = [o for o in load_manifests(FIXTURES / "good").objects if o["kind"] != "PodDisruptionBudget"]
    dep = next(o for o in objs if o["kind"] == "Deployment")
    dep["spec"]["replicas"] = 1
    assert "pdb-missing" not in _run(*objs)
    hpa = {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 4}}  # fmt: skip
    assert _run(*objs, hpa)["pdb-missing"] == [
        "2 replicas and no PodDisruptionBudget: a node drain may evict them all at once"
    ]


def test_system_roles_are_not_judged_and_resource_names_narrow_a_secret_read() -> None:
    system = {
        "kind": "ClusterRole",
        "metadata": {"name": "system:controller:foo"},
        "rules": [{"verbs": ["*"], "resources": ["*"]}],
    }
    builtin = {
        "kind": "ClusterRole",
        "metadata": {"name": "cluster-admin"},
        "rules": [{"verbs": ["*"], "resources": ["*"]}],
    }
    narrow = {"kind": "Role", "metadata": {"name": "r", "namespace": "shop"},
              "rules": [{"verbs": ["get"], "resources": ["secrets"], "resourceNames": ["tls"]}]}  # fmt: skip
    assert _run(system, builtin, narrow) == {}
    del narrow["rules"][0]["resourceNames"]
    assert _run(narrow) == {"rbac-secrets-read": ["rules[0]: get on secrets"]}


def test_cluster_admin_binding_names_its_subjects() -> None:
    binding = {"kind": "ClusterRoleBinding", "metadata": {"name": "ci"},
               "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}]}  # fmt: skip
    assert _run(binding) == {
        "rbac-cluster-admin-binding": ["binds cluster-admin to ServiceAccount ci/deployer"]
    }


def test_a_literal_credential_is_named_never_shown() -> None:
    from fixtures.posture.generate import LITERAL_PASSWORD

    report = run_checks(load_manifests(FIXTURES / "bad" / "secrets-literal-env.yaml"))
    (finding,) = report.findings
    assert finding.problems == ("container web: env DB_PASSWORD has a literal value (not shown)",)
    assert LITERAL_PASSWORD not in repr(report.as_dict())


def test_score_weighs_failures_by_severity() -> None:
    report = run_checks(load_manifests(FIXTURES / "bad" / "pod-privileged.yaml"))
    score = report.scores["bad-pod-privileged"]
    assert score.failed == 10  # one critical failure
    assert score.score == round(100 * (1 - 10 / score.applicable), 1) < 100


def test_manifests_keep_file_and_line_and_unpack_lists(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "# comment\n---\nkind: List\nitems:\n- kind: Service\n  metadata: {name: s}\n  spec: {selector: {app: s}}\n"
        "---\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x:latest}]}\n"
    )
    inv = load_manifests(tmp_path)
    assert [o["kind"] for o in inv.objects] == ["Service", "Pod"]
    assert [inv.source(o).line for o in inv.objects] == [3, 9]
    (tmp_path / "b.yml").write_text("kind: [unclosed\n")
    with pytest.raises(ToolError, match=r"b\.yml is not valid YAML"):
        load_manifests(tmp_path)
