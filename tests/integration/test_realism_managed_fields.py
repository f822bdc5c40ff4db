"""managedFields: the API stand-in records who last wrote an object and when, as a real API server does."""

from __future__ import annotations

import time

from kube_fixtures import NS, World, needs_kubectl, world_fixture  # noqa: F401
from kubernetes import client, config

from sandbox.kube.managed import changed_fields, manager_name, record_write


def _entries(world: World, resource: str, name: str) -> dict[str, dict]:
    fields = world.store.get(resource, NS, name)["metadata"].get("managedFields") or []
    return {f"{e['manager']}/{e.get('subresource', '')}": e for e in fields}


def test_manager_comes_from_field_manager_else_the_user_agent() -> None:
    assert manager_name("kubectl-patch", "kubectl/v1.32.0 (linux/amd64)") == "kubectl-patch"
    assert manager_name(None, "OpenAPI-Generator/31.0.0/python") == "OpenAPI-Generator"
    assert manager_name("", "") == "unknown"


def test_a_write_that_changes_nothing_keeps_the_old_time() -> None:
    old = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"A": "1"}}
    record_write(old, None, "kubectl-create", "2026-01-01T00:00:00Z")
    same = {**old, "metadata": {**old["metadata"], "resourceVersion": "9"}}
    record_write(same, old, "kubectl-patch", "2026-02-01T00:00:00Z")
    assert [e["manager"] for e in same["metadata"]["managedFields"]] == ["kubectl-create"]
    assert same["metadata"]["managedFields"][0]["time"] == "2026-01-01T00:00:00Z"


def test_changed_fields_lists_only_what_differs() -> None:
    old = {"data": {"A": "1", "B": "2"}, "metadata": {"labels": {"x": "1"}, "resourceVersion": "1"}}
    new = {"data": {"A": "1", "B": "3"}, "metadata": {"labels": {"x": "1"}, "resourceVersion": "2"}}
    assert changed_fields(old, new) == {"f:data": {"f:B": {}}}


@needs_kubectl
def test_kubectl_writes_are_recorded_per_manager_with_their_time(world: World) -> None:
    world.kubectl("patch", "configmap/api-config", "-p", '{"data":{"A":"2"}}')
    patched = _entries(world, "configmaps", "api-config")["kubectl-patch/"]
    assert patched["operation"] == "Update" and patched["fieldsType"] == "FieldsV1"
    assert patched["fieldsV1"] == {"f:data": {"f:A": {}}}
    first_time = patched["time"]

    time.sleep(1.1)  # timestamps have second precision; the next write must be a later second
    world.kubectl("patch", "configmap/api-config", "-p", '{"data":{"A":"2"}}')  # no change
    assert _entries(world, "configmaps", "api-config")["kubectl-patch/"]["time"] == first_time

    world.kubectl("patch", "configmap/api-config", "-p", '{"data":{"A":"3"}}')
    entries = _entries(world, "configmaps", "api-config")
    assert entries["kubectl-patch/"]["time"] > first_time
    assert list(entries) == ["kubectl-patch/"]  # one entry per manager, moved forward

    shown = world.kubectl("get", "configmap/api-config", "-o", "yaml", "--show-managed-fields").stdout
    assert "manager: kubectl-patch" in shown
    assert "managedFields" not in world.kubectl("get", "configmap/api-config", "-o", "yaml").stdout


@needs_kubectl
def test_scale_and_the_python_client_have_their_own_entries(world: World) -> None:
    world.kubectl("scale", "deployment/api", "--replicas=3")
    scaled = [e for e in _entries(world, "deployments", "api").values() if e.get("subresource") == "scale"]
    assert len(scaled) == 1 and scaled[0]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}

    api = config.new_client_from_config(str(world.kubeconfig))
    client.CoreV1Api(api).patch_namespaced_config_map("api-config", NS, {"data": {"B": "1"}})
    assert "OpenAPI-Generator/" in _entries(world, "configmaps", "api-config")


@needs_kubectl
def test_created_objects_carry_their_creator_and_clients_cannot_forge_entries(world: World) -> None:
    manifest = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: fresh
  managedFields:
  - {manager: someone-else, operation: Update, time: "2001-01-01T00:00:00Z", fieldsType: FieldsV1, fieldsV1: {}}
data: {K: v}
"""
    world.kubectl("create", "-n", NS, "-f", "-", stdin=manifest)
    entries = _entries(world, "configmaps", "fresh")
    assert list(entries) == ["kubectl-create/"]
    created = world.store.get("configmaps", NS, "fresh")["metadata"]["creationTimestamp"]
    assert entries["kubectl-create/"]["time"] == created
