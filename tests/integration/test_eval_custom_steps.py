"""Scenarios outside the catalog inject raw kubectl commands or API patches: both reach the
cluster, a refused step fails the injection loudly, and changes need a declared truth."""

from __future__ import annotations

import pytest
from kube_fixtures import NS, World, needs_kubectl, world_fixture  # noqa: F401
from pydantic import ValidationError

from evals.custom import Patch, Step, apply_step
from evals.scenario import Scenario

pytestmark = [pytest.mark.timeout(60), needs_kubectl]


def test_kubectl_and_patch_steps_change_the_cluster_and_a_refused_one_raises(world: World) -> None:
    apply_step(Step(kubectl=f"-n {NS} scale deploy api --replicas=5"), world.kubeconfig)
    body = [{"op": "replace", "path": "/spec/replicas", "value": 1}]
    apply_step(
        Step(patch=Patch(kind="Deployment", name="api", namespace=NS, type="json", body=body)),
        world.kubeconfig,
    )
    assert world.store.get("deployments", NS, "api")["spec"]["replicas"] == 1
    missing = Patch(
        kind="Deployment", name="nope", namespace=NS, type="merge", body={"spec": {"replicas": 2}}
    )
    with pytest.raises(RuntimeError, match="not found"):
        apply_step(Step(patch=missing), world.kubeconfig)


def test_a_step_has_one_form_and_changes_need_a_truth() -> None:
    with pytest.raises(ValidationError):
        Step()
    with pytest.raises(ValidationError, match="needs 'truth'"):
        Scenario(name="x", changes=[Step(kubectl="get pods")])
