"""Field diffs of the change journal: named lists matched by key, exact pointers, and an inverse
JSON Patch that really turns the after-object back into the before-object."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.journal import field_diff, inverse_patch, normalize
from tools.journal.diff import merge_key

Obj = dict[str, Any]


def _deployment(containers: list[Obj]) -> Obj:
    return {
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "ns", "resourceVersion": "7", "uid": "u1", "generation": 3},
        "spec": {"replicas": 2, "template": {"spec": {"containers": containers, "securityContext": {}}}},
        "status": {"readyReplicas": 2},
    }


def test_a_reorder_of_named_items_is_no_change() -> None:
    a = {"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    b = {"name": "b", "image": "y:1", "ports": [{"containerPort": 80}, {"containerPort": 81}]}
    before = normalize(_deployment([a, b]))
    reordered = copy.deepcopy(b)
    reordered["ports"].reverse()
    env_reordered = copy.deepcopy(a)
    env_reordered["env"].reverse()
    after = normalize(_deployment([reordered, env_reordered]))
    assert field_diff(before, after) == []


def test_a_target_port_change_gives_exactly_that_path() -> None:
    svc = {
        "kind": "Service",
        "metadata": {"name": "api", "managedFields": [{"manager": "m", "time": "2026-01-01T00:00:00Z"}]},
        "spec": {
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080},
                {"name": "m", "port": 9, "targetPort": 9},
            ]
        },
    }
    changed = copy.deepcopy(svc)
    changed["spec"]["ports"][0]["targetPort"] = 9090
    changed["spec"]["ports"].reverse()  # and the list order moved: the pointer uses the new index
    diff = field_diff(normalize(svc), normalize(changed))
    assert [d.as_dict() for d in diff] == [
        {"path": "/spec/ports/1/targetPort", "op": "replace", "old": 8080, "new": 9090}
    ]


def test_normalization_drops_server_fields_and_defaulted_empties() -> None:
    dep = _deployment([{"name": "a", "image": "x:1", "resources": {}, "args": []}])
    dep["metadata"]["annotations"] = {
        "deployment.kubernetes.io/revision": "4",
        "kubectl.kubernetes.io/last-applied-configuration": '{"spec": {}}',
        "team": "core",
    }
    out = normalize(dep)
    assert out["metadata"] == {"annotations": {"team": "core"}, "name": "api", "namespace": "ns"}
    assert "status" not in out
    assert out["spec"]["template"]["spec"] == {"containers": [{"image": "x:1", "name": "a"}]}


def test_a_secret_keeps_key_names_and_hashes_only() -> None:
    secret = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "aHVudGVyMg=="}}
    out = normalize(secret)
    assert list(out["data"]) == ["password"] and out["data"]["password"].startswith("sha256:")
    assert "aHVudGVyMg==" not in str(out) and "hunter2" not in str(out)
    same_value_as_text = normalize(
        {"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}
    )
    assert same_value_as_text["data"] == out["data"]


def test_merge_key_falls_back_to_whole_list_comparison() -> None:
    assert merge_key([{"name": "a"}], [{"name": "b"}]) == "name"
    assert merge_key(["x"], ["y"]) is None
    assert merge_key([{"name": "a"}, {"name": "a"}], []) is None  # not unique: no key
    diff = field_diff({"args": ["a", "b"]}, {"args": ["b", "a"]})
    assert [d.as_dict() for d in diff] == [
        {"path": "/args", "op": "replace", "old": ["a", "b"], "new": ["b", "a"]}
    ]


def test_pointer_tokens_are_escaped() -> None:
    diff = field_diff({"metadata": {"labels": {"app/x~y": "1"}}}, {"metadata": {"labels": {"app/x~y": "2"}}})
    assert diff[0].path == "/metadata/labels/app~1x~0y"


# --- property: the inverse of a diff applied to the after-object gives the before-object -------
_scalars = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "c"]), st.booleans())
_names = st.sampled_from(["api", "side", "init", "log", "proxy"])


def _named_list(children: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Obj]]:
    item = st.fixed_dictionaries({"name": _names}, optional={"v": children, "w": children})
    return st.lists(item, max_size=4, unique_by=lambda i: i["name"])


_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.dictionaries(st.sampled_from(["x", "y", "z/q", "t~u"]), children, max_size=3),
        st.lists(_scalars, max_size=3),
        _named_list(children),
    ),
    max_leaves=12,
)
_objects = st.dictionaries(st.sampled_from(["spec", "data", "metadata"]), _values, min_size=1, max_size=3)


def _canonical(value: Any) -> Any:
    """Order of named items does not matter (a reorder is no change); everything else does."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        if merge_key(value, value) == "name":
            return sorted(items, key=lambda i: str(i["name"]))
        return items
    return value


@settings(max_examples=200, deadline=None)
@given(before=_objects, after=_objects)
def test_inverse_patch_turns_after_back_into_before(before: Obj, after: Obj) -> None:
    diff = field_diff(before, after)
    restored = jsonpatch.apply_patch(after, inverse_patch(diff))
    assert _canonical(restored) == _canonical(before)
    if not diff:
        assert _canonical(before) == _canonical(after)


def test_a_value_recorded_only_as_its_hash_is_never_written_back() -> None:
    """An env value that looked secret is journaled as a hash; reverting its change would write the
    hash into the Deployment, so the revert refuses and says a human must restore it."""
    from datetime import UTC, datetime

    from tools.journal import Change, FieldChange, normalize
    from tools.kubernetes.revert import why_not_revertible

    before = {"kind": "Deployment", "spec": {"env": [{"name": "DB_PASSWORD", "value": "old-Secret-1"}]}}
    old = normalize(before, "Deployment")["spec"]["env"][0]["value"]
    assert old != "old-Secret-1"  # the journal keeps its hash only
    change = Change(
        kind="Deployment",
        name="shop",
        time=datetime.now(UTC),
        diff=[FieldChange(path="/spec/env/0/value", op="replace", old=old, new="sha256:0000")],
    )
    assert "hash" in (why_not_revertible(change) or "")
    harmless = change.model_copy(
        update={"diff": [FieldChange(path="/spec/replicas", op="replace", old=2, new=0)]}
    )
    assert why_not_revertible(harmless) is None
