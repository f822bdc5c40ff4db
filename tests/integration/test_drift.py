"""Drift of the seeded platform from its manifests: hand edits show field by field; HPA-owned
replicas, server defaults and status do not; Secret values never show."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml
from drift_world import NS, Platform, plat_fixture  # noqa: F401

from sandbox.platform import CACHE_PASSWORD
from tools.desired.tool import drift

pytestmark = pytest.mark.timeout(60)


def _drift(p: Platform, namespace: str | None = None) -> dict:
    result = drift.invoke(p.deps, {"namespace": namespace} if namespace else {})
    assert result.status == "ok", result.text
    return result.data | {"text": result.text}


def _fields(report: dict, ref: str) -> dict[str, dict]:
    by_ref = {f"{d['kind']}/{d['namespace']}/{d['name']}": d for d in report["drifted"]}
    return {f["path"]: f for f in by_ref[ref]["fields"]}


def test_the_seeded_platform_matches_its_manifests(plat: Platform) -> None:
    report = _drift(plat)
    assert report["checked"] == 40 and report["drifted"] == [] and report["errors"] == {}


def test_hand_edits_of_a_deployment_a_configmap_and_a_service_are_drift(plat: Platform) -> None:
    plat.edit(
        f"/apis/apps/v1/namespaces/{NS}/deployments/predictor",
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "predictor",
                                "image": "registry.local/market-predictor/predictor:1.5.0-rc1",
                            }
                        ]
                    }
                }
            }
        },
    )
    plat.edit(f"/api/v1/namespaces/{NS}/configmaps/predictor-config", {"data": {"WORKERS": "16"}})
    plat.edit(f"/api/v1/namespaces/{NS}/services/cache", {"metadata": {"labels": {"tier": "hand-edited"}}})
    report = _drift(plat, NS)
    assert len(report["drifted"]) == 3
    dep = _fields(report, f"Deployment/{NS}/predictor")
    assert list(dep) == ["/spec/template/spec/containers/0/image"]
    assert dep["/spec/template/spec/containers/0/image"]["live"].endswith("1.5.0-rc1")
    assert dep["/spec/template/spec/containers/0/image"]["desired"].endswith("predictor:1.4.0")
    assert _fields(report, f"ConfigMap/{NS}/predictor-config") == {
        "/data/WORKERS": {"path": "/data/WORKERS", "op": "replace", "live": "16", "desired": "4"}
    }
    assert _fields(report, f"Service/{NS}/cache")["/metadata/labels/tier"]["live"] == "hand-edited"
    assert "predictor-config" in report["text"] and "'16' -> desired '4'" in report["text"]
    assert _drift(plat, f"{NS}-staging")["drifted"] == []  # the other namespace is untouched


def test_a_service_port_edited_with_kubectl_patch_is_drift(plat: Platform) -> None:
    import shutil
    import subprocess

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    subprocess.run(
        [kubectl, "--kubeconfig", str(plat.kubeconfig), "-n", NS, "patch", "service", "api-gateway", "--type=json",
         "-p", '[{"op":"replace","path":"/spec/ports/0/targetPort","value":9999}]'],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    fields = _fields(_drift(plat, NS), f"Service/{NS}/api-gateway")
    assert [(f["live"], f["op"]) for f in fields.values()] == [(9999, "replace")]


def test_secret_drift_never_shows_the_values(plat: Platform) -> None:
    import base64

    plat.edit(
        f"/api/v1/namespaces/{NS}/secrets/cache-credentials",
        {"data": {"password": base64.b64encode(b"hand-set-S3cret").decode()}},
    )
    result = drift.invoke(plat.deps, {"namespace": NS})
    fields = _fields(result.data, f"Secret/{NS}/cache-credentials")
    assert list(fields) == ["/data/password"]
    dumped = result.text + json.dumps(result.data)
    for secret in ("hand-set-S3cret", CACHE_PASSWORD, base64.b64encode(CACHE_PASSWORD.encode()).decode()):
        assert secret not in dumped


def _declare_replicas(p: Platform, replicas: int) -> None:
    path = p.manifests / NS / "deployment-predictor.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["spec"]["replicas"] = replicas
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _scale(p: Platform, replicas: int, manager: str) -> None:
    httpx.patch(
        p.server.url + f"/apis/apps/v1/namespaces/{NS}/deployments/predictor/scale",
        params={"fieldManager": manager},
        content=json.dumps({"spec": {"replicas": replicas}}),
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=10,
    ).raise_for_status()


def test_replicas_the_hpa_owns_are_not_drift(plat: Platform) -> None:
    _declare_replicas(plat, 3)
    _scale(plat, 5, "kube-controller-manager")  # what the HPA controller does, through /scale
    report = _drift(plat, NS)
    assert report["drifted"] == []


def test_replicas_scaled_by_hand_are_drift(plat: Platform) -> None:
    _declare_replicas(plat, 3)
    _scale(plat, 5, "kubectl-scale")
    fields = _fields(_drift(plat, NS), f"Deployment/{NS}/predictor")
    assert fields["/spec/replicas"]["live"] == 5 and fields["/spec/replicas"]["desired"] == 3


def test_defaulted_fields_and_status_are_not_drift(plat: Platform, tmp_path: Path) -> None:
    path = plat.manifests / NS / "deployment-queue.yaml"
    doc = yaml.safe_load(path.read_text())
    for key in ("strategy", "revisionHistoryLimit", "progressDeadlineSeconds", "minReadySeconds"):
        doc["spec"].pop(key)  # the server defaults these (and the live object has them)
    container = doc["spec"]["template"]["spec"]["containers"][0]
    container.pop("imagePullPolicy", None)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    svc = plat.manifests / NS / "service-queue.yaml"
    sdoc = yaml.safe_load(svc.read_text())
    sdoc["spec"].pop("sessionAffinity")
    sdoc["spec"].pop("type")
    svc.write_text(yaml.safe_dump(sdoc, sort_keys=False))
    plat.store.mutate(
        "deployments",
        NS,
        "queue",
        lambda d: d.setdefault("status", {}).update(readyReplicas=0, observedGeneration=99),
    )
    plat.store.mutate(
        "services", NS, "queue", lambda s: s.update(status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})
    )
    report = _drift(plat, NS)
    assert report["drifted"] == []


def test_a_missing_object_is_drift_and_an_unset_desired_state_is_a_clear_error(plat: Platform) -> None:
    httpx.delete(
        plat.server.url + f"/api/v1/namespaces/{NS}/configmaps/api-gateway-config", timeout=10
    ).raise_for_status()
    report = _drift(plat, NS)
    assert [(d["name"], d["state"]) for d in report["drifted"]] == [("api-gateway-config", "missing")]
    plat.deps.desired_state = None
    result = drift.invoke(plat.deps, {})
    assert result.status == "error" and "DEVOPS_AGENT_DESIRED_STATE" in result.text


def test_fields_added_by_hand_are_drift_but_restart_stamps_are_not(plat: Platform) -> None:
    plat.edit(
        f"/api/v1/namespaces/{NS}/services/cache",
        {"metadata": {"labels": {"owner": "bob"}}},
        manager="kubectl-label",
    )
    extra_env = {"name": "DEBUG", "value": "1"}
    dep = f"/apis/apps/v1/namespaces/{NS}/deployments/predictor"
    plat.edit(
        dep, {"spec": {"template": {"spec": {"containers": [{"name": "predictor", "env": [extra_env]}]}}}}
    )
    stamp = {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}
    plat.edit(
        f"/apis/apps/v1/namespaces/{NS}/deployments/cache",
        {"spec": {"template": {"metadata": {"annotations": stamp}}}},
        manager="kubectl-rollout",
    )
    report = _drift(plat, NS)
    assert sorted(d["name"] for d in report["drifted"]) == ["cache", "predictor"]
    svc = _fields(report, f"Service/{NS}/cache")
    assert svc == {
        "/metadata/labels/owner": {"path": "/metadata/labels/owner", "op": "remove", "live": "bob"}
    }
    (env_field,) = _fields(report, f"Deployment/{NS}/predictor").values()
    assert env_field["op"] == "remove" and env_field["live"] == extra_env
    assert "/metadata/labels/owner: live 'bob', not desired" in report["text"]
