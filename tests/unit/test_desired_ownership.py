"""Field ownership from managedFields as a real API server writes it (multi-key list items, atomic
lists), and the sandbox's FieldsV1 encoding of applied configurations."""

from __future__ import annotations

from sandbox.kube.apply import applied_paths, from_fields_v1, to_fields_v1
from tools.desired.ownership import latest_owner, owns

DEP = {
    "spec": {
        "replicas": 5,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "a:1",
                        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                        "args": ["-v"],
                    }
                ]
            }
        },
    }
}
# what kube-apiserver records for `kubectl apply --server-side` of DEP, and for the HPA's scale
APPLIED = {
    "f:spec": {
        "f:replicas": {},
        "f:template": {
            "f:spec": {
                "f:containers": {
                    'k:{"name":"app"}': {
                        ".": {},
                        "f:args": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {
                            'k:{"containerPort":8080,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}
                        },
                    }
                }
            }
        },
    }
}
SCALE = {"f:spec": {"f:replicas": {}}}


def test_owns_follows_keyed_items_by_every_key_and_atomic_lists_as_a_whole() -> None:
    container = ["spec", "template", "spec", "containers", "0"]
    assert owns(APPLIED, DEP, [*container, "image"])
    assert owns(APPLIED, DEP, [*container, "ports", "0", "containerPort"])
    assert owns(APPLIED, DEP, [*container, "args", "0"])  # an atomic list owns its items
    assert not owns(APPLIED, DEP, [*container, "resources"])
    assert not owns(SCALE, DEP, [*container, "image"])
    other = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "b"}]}}}}
    assert not owns(APPLIED, other, [*container, "image"])  # the item at index 0 is another container


def test_the_newest_owner_of_a_field_wins() -> None:
    entries = [
        {"manager": "kubectl", "operation": "Apply", "time": "2026-01-01T00:00:00Z", "fieldsV1": APPLIED},
        {"manager": "kube-controller-manager", "operation": "Update", "subresource": "scale",
         "time": "2026-01-02T00:00:00Z", "fieldsV1": SCALE},
    ]  # fmt: skip
    assert latest_owner(entries, DEP, ["spec", "replicas"]) == "kube-controller-manager"
    assert latest_owner(entries, DEP, ["spec", "template", "spec", "containers", "0", "image"]) == "kubectl"
    assert latest_owner(entries, DEP, ["metadata", "labels"]) is None


def test_sandbox_field_sets_round_trip_through_fields_v1() -> None:
    paths = applied_paths(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "x", "labels": {"a": "1"}},
            **DEP,
        }
    )
    assert ("f:metadata", "f:labels", "f:a") in paths and ("f:metadata", "f:name") not in paths
    assert ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"app"}') in paths
    assert from_fields_v1(to_fields_v1(paths)) == paths
