"""Patch formats and selectors of the Kubernetes API stand-in (pure functions, no server)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.kube.errors import ApiError
from sandbox.kube.patching import apply_patch, json_patch, merge_patch, strategic_merge
from sandbox.kube.resources import by_plural
from sandbox.kube.selectors import object_matcher, parse_label_selector, selector_string

POD_SPEC: dict[str, Any] = {
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "app:1",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 8080, "name": "http"}],
            },
            {"name": "sidecar", "image": "proxy:1"},
        ],
        "tolerations": [{"key": "x"}],
    }
}


def test_strategic_merge_merges_named_lists_by_key() -> None:
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
            "containers": [
                {
                    "name": "app",
                    "image": "app:2",
                    "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                }
            ],
        }
    }
    merged = strategic_merge(POD_SPEC, patch)
    app, sidecar = merged["spec"]["containers"]
    assert app["image"] == "app:2" and sidecar["image"] == "proxy:1"
    assert app["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "3"},
        {"name": "C", "value": "4"},
    ]
    assert app["ports"] == [{"containerPort": 8080, "name": "http"}]
    assert "$setElementOrder/containers" not in merged["spec"]
    assert POD_SPEC["spec"]["containers"][0]["image"] == "app:1"  # the original is untouched


def test_strategic_merge_directives_and_null() -> None:
    delete_item = {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}], "tolerations": None}}
    merged = strategic_merge(POD_SPEC, delete_item)
    assert [c["name"] for c in merged["spec"]["containers"]] == ["app"]
    assert "tolerations" not in merged["spec"]
    replaced = strategic_merge(POD_SPEC, {"spec": {"$patch": "replace", "containers": [{"name": "only"}]}})
    assert replaced == {"spec": {"containers": [{"name": "only"}]}}
    ports = strategic_merge(
        POD_SPEC, {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 9090}]}]}}
    )
    assert [p["containerPort"] for p in ports["spec"]["containers"][0]["ports"]] == [8080, 9090]
    retained = strategic_merge({"spec": {"a": 1}}, {"spec": {"$retainKeys": ["a"], "a": 2}})
    assert retained == {"spec": {"a": 2}}


def test_strategic_merge_service_ports_by_port_and_scalar_lists_replace() -> None:
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}], "externalIPs": ["1.1.1.1"]}}
    merged = strategic_merge(
        svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}], "externalIPs": ["2.2.2.2"]}}
    )
    assert merged["spec"]["ports"] == [{"port": 80, "targetPort": 9090}]
    assert merged["spec"]["externalIPs"] == ["2.2.2.2"]


def test_merge_patch_rfc7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "list": [3]}
    assert merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}, "list": [3]}
    assert merge_patch({"a": 1}, {"a": {"b": None}}) == {"a": {}}


def test_json_patch_rfc6902() -> None:
    doc = {"metadata": {"annotations": {"a/b": "1"}}, "items": [1, 2]}
    ops = [
        {"op": "add", "path": "/items/-", "value": 3},
        {"op": "add", "path": "/items/0", "value": 0},
        {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "2"},
        {"op": "copy", "from": "/items/3", "path": "/copied"},
        {"op": "move", "from": "/copied", "path": "/moved"},
        {"op": "test", "path": "/moved", "value": 3},
        {"op": "remove", "path": "/items/1"},
    ]
    assert json_patch(doc, ops) == {"metadata": {"annotations": {"a/b": "2"}}, "items": [0, 2, 3], "moved": 3}


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        ([{"op": "remove", "path": "/missing"}], 422),
        ([{"op": "test", "path": "/a", "value": 2}], 422),
        ([{"op": "jump", "path": "/a"}], 400),
        ([{"path": "/a"}], 400),
        ([{"op": "add", "path": "a", "value": 1}], 400),
    ],
)
def test_json_patch_errors(ops: list[Any], code: int) -> None:
    with pytest.raises(ApiError) as err:
        json_patch({"a": 1}, ops)
    assert err.value.code == code


def test_apply_patch_picks_the_format_and_rejects_others() -> None:
    assert apply_patch("application/merge-patch+json; charset=utf-8", {"a": 1}, {"a": None}) == {}
    with pytest.raises(ApiError) as err:
        apply_patch("text/plain", {}, {})
    assert err.value.code == 415
    with pytest.raises(ApiError):
        apply_patch("application/strategic-merge-patch+json", {}, [1])


def test_label_selectors() -> None:
    pods = by_plural("pods")
    web = {"metadata": {"name": "a", "labels": {"app": "web", "tier": "front"}}}
    db = {"metadata": {"name": "b", "labels": {"app": "db"}}}

    def matching(selector: str) -> list[str]:
        match = object_matcher(pods, selector, None)
        return [o["metadata"]["name"] for o in (web, db) if match(o)]

    assert matching("app=web") == ["a"]
    assert matching("app==db") == ["b"]
    assert matching("app!=web") == ["b"]
    assert matching("app in (web, db),tier notin (back)") == ["a", "b"]
    assert matching("tier") == ["a"]
    assert matching("!tier") == ["b"]
    with pytest.raises(ApiError):
        parse_label_selector("app in web")


def test_field_selectors() -> None:
    events = by_plural("events")
    ev = {
        "metadata": {"name": "e", "namespace": "ns"},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "type": "Warning",
    }
    assert object_matcher(events, None, "involvedObject.kind=Pod,involvedObject.name=p,type=Warning")(ev)
    assert not object_matcher(events, None, "type!=Warning")(ev)
    with pytest.raises(ApiError) as err:
        object_matcher(events, None, "spec.nodeName=x")
    assert err.value.code == 400 and "spec.nodeName" in err.value.message


def test_selector_string_renders_label_selector_objects() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "x", "operator": "Exists"},
        ],
    }
    assert selector_string(selector) == "app=web,tier in (a,b),x"
