"""Pure shaping: trimmed objects, kubectl-like status, folded events, series summaries, log templates."""

from __future__ import annotations

from typing import Any

from tools.kubernetes.logs import fold_repeats
from tools.kubernetes.rollout import same_template
from tools.kubernetes.shape import dedupe_events, object_table, pod_phase, secret_summary, trim
from tools.logpatterns import mine_patterns
from tools.promshape import departure, shape_matrix, shape_vector, split_labels, trend

Obj = dict[str, Any]


def pod(waiting: str | None = None, restarts: int = 0, phase: str = "Running", ready: bool = True) -> Obj:
    state: Obj = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "kind": "Pod",
        "metadata": {"name": "api-1", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"nodeName": "n1", "containers": [{"name": "api"}]},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": "api", "ready": ready, "restartCount": restarts, "state": state}],
        },
    }


def test_trim_drops_managed_fields_and_last_applied_and_masks_env_secrets() -> None:
    obj = {
        "kind": "Deployment",
        "metadata": {
            "name": "api",
            "managedFields": [{"manager": "kubectl"}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "team": "core"},
            "uid": "u",
            "resourceVersion": "7",
        },
        "spec": {
            "template": {"spec": {"containers": [{"env": [{"name": "DB_PASSWORD", "value": "hunter2"}]}]}}
        },
    }
    out = trim(obj)
    assert "managedFields" not in out["metadata"] and "uid" not in out["metadata"]
    assert out["metadata"]["annotations"] == {"team": "core"}
    assert "hunter2" not in str(out)
    assert obj["metadata"]["managedFields"]  # input untouched


def test_pod_status_prefers_container_reason_like_kubectl() -> None:
    assert pod_phase(pod("CrashLoopBackOff", 5)) == "CrashLoopBackOff"
    assert pod_phase(pod()) == "Running"
    terminating = pod()
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:01Z"
    assert pod_phase(terminating) == "Terminating"


def test_pod_table_has_kubectl_columns() -> None:
    table = object_table("Pod", [pod("ImagePullBackOff", 0, ready=False)])
    header, row = table.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"]
    assert row.split()[:4] == ["api-1", "0/1", "ImagePullBackOff", "0"]


def test_secret_summary_never_has_values() -> None:
    out = secret_summary({"metadata": {"name": "db"}, "type": "Opaque", "data": {"password": "aHVudGVy"}})
    assert out["keys"] == ["password"] and "aHVudGVy" not in str(out)
    assert "aHVudGVy" not in object_table(
        "Secret", [{"metadata": {"name": "db"}, "data": {"password": "aHVudGVy"}}]
    )


def test_events_fold_with_counts_newest_first() -> None:
    def ev(ts: str, count: int = 1, reason: str = "BackOff") -> Obj:
        return {"involvedObject": {"kind": "Pod", "name": "api-1"}, "reason": reason, "message": "Back-off restarting", "type": "Warning",
                "count": count, "lastTimestamp": ts}  # fmt: skip

    folded = dedupe_events(
        [
            ev("2026-01-01T00:00:01Z", 3),
            ev("2026-01-01T00:00:05Z", 2),
            ev("2026-01-01T00:00:03Z", reason="Pulled"),
        ]
    )
    assert [(e["reason"], e["count"], e["lastTimestamp"]) for e in folded] == [
        ("BackOff", 5, "2026-01-01T00:00:05Z"),
        ("Pulled", 1, "2026-01-01T00:00:03Z"),
    ]


def test_templates_compare_without_hash_label_and_server_defaults() -> None:
    a = {
        "metadata": {"labels": {"app": "api", "pod-template-hash": "abc"}},
        "spec": {"containers": [{"name": "api", "image": "api:1"}]},
    }
    b = {
        "metadata": {"labels": {"app": "api"}},
        "spec": {
            "containers": [{"name": "api", "image": "api:1", "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
        },
    }
    assert same_template(a, b)
    b["spec"]["containers"][0]["image"] = "api:2"
    assert not same_template(a, b)


def test_split_labels_keeps_only_what_differs() -> None:
    common, diffs = split_labels([{"job": "k", "pod": "a"}, {"job": "k", "pod": "b"}])
    assert common == {"job": "k"} and diffs == [{"pod": "a"}, {"pod": "b"}]


def test_trend_and_departure() -> None:
    assert trend(1, 1, 1, 1) == "flat"
    assert trend(1, 10, 1, 10).startswith("rising")
    assert trend(10, 1, 1, 10).startswith("falling")
    points = [(float(t), 1.0) for t in range(30)] + [(float(t), 5.0) for t in range(30, 40)]
    text, score = departure(points)
    assert "departs from baseline 1" in text and score > 1
    assert departure([(float(t), 1.0 + (t % 2) * 0.01) for t in range(40)]) == ("", 0.0)


def test_matrix_ranks_anomalous_series_first_and_counts() -> None:
    calm = {"metric": {"pod": "a"}, "values": [[t, "1"] for t in range(40)]}
    hot = {"metric": {"pod": "b"}, "values": [[t, "1" if t < 30 else "8"] for t in range(40)]}
    text, data = shape_matrix([calm, hot], "q", top_k=1)
    assert "showing 1 of 2" in text and '{pod="b"}' in text and '{pod="a"}' not in text
    assert {d["labels"]["pod"] for d in data} == {"a", "b"}


def test_vector_handles_nan_and_sorts() -> None:
    text, _data = shape_vector(
        [{"metric": {"a": "x"}, "value": [0, "NaN"]}, {"metric": {"a": "y"}, "value": [0, "2"]}], "q"
    )
    assert text.splitlines()[1].startswith('- {a="y"}: 2')


def test_fold_repeats() -> None:
    assert fold_repeats(["a", "a", "a", "b", "a"]) == ["a  [x3]", "b", "a"]


def test_log_patterns_group_lines_and_keep_status_codes_apart() -> None:
    entries = [(i, f"GET /predict 500 {i}ms") for i in range(30)] + [
        (100 + i, f"db timeout after {i * 10}ms on 10.0.0.{i}") for i in range(10)
    ]
    patterns = mine_patterns(entries)
    assert [p["count"] for p in patterns] == [30, 10]
    assert patterns[0]["template"].startswith("GET /predict 500") and patterns[0]["last_ns"] == 29
    assert patterns[1]["first_ns"] == 100 and patterns[1]["example"].startswith("db timeout after 90ms")
