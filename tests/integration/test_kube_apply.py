"""Server-side apply in the API stand-in: merge, ownership, removal of dropped fields, conflicts, dry run."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import yaml
from kube_fixtures import NS, World, needs_kubectl, world_fixture  # noqa: F401

APPLY = "application/apply-patch+yaml"
CM = f"/api/v1/namespaces/{NS}/configmaps/api-config"
DEP = f"/apis/apps/v1/namespaces/{NS}/deployments/api"


def _apply(world: World, path: str, body: dict[str, Any], manager: str, **params: str) -> httpx.Response:
    return httpx.patch(
        world.server.url + path,
        params={"fieldManager": manager, **params},
        content=yaml.safe_dump(body),
        headers={"Content-Type": APPLY},
        timeout=10,
    )


def _cm(data: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "api-config", "namespace": NS}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def _entries(world: World, resource: str, name: str) -> dict[str, dict[str, Any]]:
    fields = world.store.get(resource, NS, name)["metadata"].get("managedFields") or []
    return {f"{e['manager']}/{e['operation']}": e for e in fields}


def test_apply_merges_and_records_an_apply_entry(world: World) -> None:
    resp = _apply(world, CM, _cm({"B": "2"}, {"team": "x"}), "gitops")
    assert resp.status_code == 200, resp.text
    stored = world.store.get("configmaps", NS, "api-config")
    assert stored["data"] == {"A": "1", "B": "2"}  # A was not applied: it stays
    entry = _entries(world, "configmaps", "api-config")["gitops/Apply"]
    assert entry["fieldsV1"] == {"f:data": {"f:B": {}}, "f:metadata": {"f:labels": {"f:team": {}}}}


def test_reapply_without_a_field_removes_it_but_keeps_other_managers_fields(world: World) -> None:
    assert _apply(world, CM, _cm({"B": "2", "C": "3"}), "gitops").status_code == 200
    assert _apply(world, CM, _cm({"B": "2"}), "gitops").status_code == 200
    assert world.store.get("configmaps", NS, "api-config")["data"] == {"A": "1", "B": "2"}


def test_keyed_list_items_merge_and_a_dropped_item_is_removed(world: World) -> None:
    container = {
        "name": "api",
        "image": "api:v3",
        "env": [{"name": "MODE", "value": "fast"}, {"name": "X", "value": "1"}],
    }
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": NS},
        "spec": {
            "selector": {"matchLabels": {"app": "api"}},
            "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [container]}},
        },
    }
    assert _apply(world, DEP, body, "gitops", force="true").status_code == 200
    env = world.store.get("deployments", NS, "api")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {e["name"] for e in env} == {"MODE", "X"}
    container["env"] = [{"name": "MODE", "value": "fast"}]
    assert _apply(world, DEP, body, "gitops", force="true").status_code == 200
    dep = world.store.get("deployments", NS, "api")
    assert [e["name"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]] == ["MODE"]
    assert dep["spec"]["replicas"] == 2  # never applied: untouched


def test_conflict_with_another_manager_is_409_unless_forced(world: World) -> None:
    httpx.patch(
        world.server.url + CM,
        params={"fieldManager": "kubectl-edit"},
        content=json.dumps({"data": {"A": "edited"}}),
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=10,
    ).raise_for_status()
    resp = _apply(world, CM, _cm({"A": "1"}), "gitops")
    assert resp.status_code == 409
    assert 'conflict with "kubectl-edit"' in resp.json()["message"] and ".data.A" in resp.json()["message"]
    assert world.store.get("configmaps", NS, "api-config")["data"]["A"] == "edited"

    forced = _apply(world, CM, _cm({"A": "1"}), "gitops", force="true")
    assert forced.status_code == 200, forced.text
    assert world.store.get("configmaps", NS, "api-config")["data"]["A"] == "1"
    entries = _entries(world, "configmaps", "api-config")
    assert "kubectl-edit/Update" not in entries  # its only field was taken over
    assert entries["gitops/Apply"]["fieldsV1"] == {"f:data": {"f:A": {}}}


def test_agreeing_with_another_manager_is_no_conflict(world: World) -> None:
    httpx.patch(
        world.server.url + CM,
        params={"fieldManager": "kubectl-edit"},
        content=json.dumps({"data": {"A": "2"}}),
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=10,
    ).raise_for_status()
    assert _apply(world, CM, _cm({"A": "2"}), "gitops").status_code == 200


def test_dry_run_answers_the_result_and_changes_nothing(world: World) -> None:
    before = world.store.get("configmaps", NS, "api-config")
    resp = _apply(world, CM, _cm({"A": "9"}), "gitops", force="true", dryRun="All")
    assert resp.status_code == 200
    assert resp.json()["data"]["A"] == "9"
    assert world.store.get("configmaps", NS, "api-config") == before


def test_apply_creates_a_missing_object_and_needs_a_field_manager(world: World) -> None:
    path = f"/api/v1/namespaces/{NS}/configmaps/new-one"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new-one"}, "data": {"K": "v"}}
    missing = httpx.patch(
        world.server.url + path, content=yaml.safe_dump(body), headers={"Content-Type": APPLY}, timeout=10
    )
    assert missing.status_code == 400 and "fieldManager" in missing.json()["message"]
    assert _apply(world, path, body, "gitops").status_code == 200
    created = world.store.get("configmaps", NS, "new-one")
    assert created["data"] == {"K": "v"}
    assert created["metadata"]["managedFields"][0]["operation"] == "Apply"


@needs_kubectl
def test_kubectl_server_side_apply_and_its_server_dry_run(world: World, tmp_path: Any) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(yaml.safe_dump(_cm({"A": "1", "Z": "26"})))
    dry = world.kubectl("apply", "--server-side", "--dry-run=server", "-f", str(manifest), "-o", "json")
    assert json.loads(dry.stdout)["data"]["Z"] == "26"
    assert "Z" not in world.store.get("configmaps", NS, "api-config")["data"]
    world.kubectl("apply", "--server-side", "-f", str(manifest))
    assert world.store.get("configmaps", NS, "api-config")["data"]["Z"] == "26"
    assert "kubectl/Apply" in _entries(world, "configmaps", "api-config")


@pytest.mark.parametrize("force", ["false", "true"])
def test_an_apply_patch_that_is_not_an_object_is_400(world: World, force: str) -> None:
    resp = httpx.patch(
        world.server.url + CM,
        params={"fieldManager": "gitops", "force": force},
        content="- just\n- a list\n",
        headers={"Content-Type": APPLY},
        timeout=10,
    )
    assert resp.status_code == 400


def test_an_apply_that_changes_nothing_writes_nothing(world: World) -> None:
    assert _apply(world, CM, _cm({"B": "2"}), "gitops").status_code == 200
    before = world.store.get("configmaps", NS, "api-config")
    again = _apply(world, CM, _cm({"B": "2"}), "gitops")
    assert (
        again.status_code == 200
        and again.json()["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    )
    assert world.store.get("configmaps", NS, "api-config") == before
