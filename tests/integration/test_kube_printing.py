"""Server-side printing of the Kubernetes API stand-in: what ``kubectl get`` shows (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.kube.columns import node_status, pod_status
from sandbox.kube.printing import human_duration, table
from sandbox.kube.resources import by_plural


def _pod(*statuses: dict[str, Any], phase: str = "Running", **meta: Any) -> dict[str, Any]:
    containers = [{"name": s["name"]} for s in statuses] or [{"name": "app"}]
    return {
        "metadata": {"name": "p", **meta},
        "spec": {"containers": containers},
        "status": {"phase": phase, "containerStatuses": list(statuses)},
    }


def _cs(state: dict[str, Any], ready: bool = False, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"name": "app", "state": state, "ready": ready, "restartCount": restarts, **extra}


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (_pod(_cs({"running": {}}, ready=True)), ("Running", 1, 1, 0)),
        (_pod(_cs({"waiting": {"reason": "CrashLoopBackOff"}}, restarts=4)), ("CrashLoopBackOff", 0, 1, 4)),
        (
            _pod(_cs({"waiting": {"reason": "ImagePullBackOff"}}), phase="Pending"),
            ("ImagePullBackOff", 0, 1, 0),
        ),
        (_pod(_cs({"waiting": {"reason": "ErrImagePull"}}), phase="Pending"), ("ErrImagePull", 0, 1, 0)),
        (
            _pod(_cs({"terminated": {"reason": "OOMKilled", "exitCode": 137}}, restarts=2)),
            ("OOMKilled", 0, 1, 2),
        ),
        (_pod(_cs({}, lastState={"terminated": {"reason": "OOMKilled"}})), ("OOMKilled", 0, 1, 0)),
        (_pod(_cs({"terminated": {"exitCode": 1}})), ("ExitCode:1", 0, 1, 0)),
        (_pod(phase="Pending"), ("Pending", 0, 1, 0)),
        (
            _pod(_cs({"running": {}}, ready=True), deletionTimestamp="2026-01-01T00:00:00Z"),
            ("Terminating", 1, 1, 0),
        ),
    ],
)
def test_pod_status_column(pod: dict[str, Any], expected: tuple[str, int, int, int]) -> None:
    assert pod_status(pod) == expected


@pytest.mark.parametrize(
    ("ready", "unschedulable", "expected"),
    [
        ("True", False, "Ready"),
        ("False", False, "NotReady"),
        ("True", True, "Ready,SchedulingDisabled"),
        (None, False, "Unknown"),
    ],
)
def test_node_status_column(ready: str | None, unschedulable: bool, expected: str) -> None:
    conditions = [{"type": "Ready", "status": ready}] if ready else []
    node = {
        "metadata": {"name": "n"},
        "spec": {"unschedulable": unschedulable},
        "status": {"conditions": conditions},
    }
    assert node_status(node) == expected


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (3 * 86400, "3d"),
    ],
)
def test_age_like_kubectl(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_table_rows_and_wide_columns() -> None:
    deployment = {
        "metadata": {"name": "api", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {"spec": {"containers": [{"name": "api", "image": "api:v2"}]}},
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    shown = table(by_plural("deployments"), [deployment], "Metadata", "42")
    names = [c["name"] for c in shown["columnDefinitions"] if c["priority"] == 0]
    assert names == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    cells = shown["rows"][0]["cells"]
    assert cells[:4] == ["api", "2/3", 3, 2] and cells[5:] == ["api", "api:v2", "app=api"]
    assert shown["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert table(by_plural("deployments"), [deployment], "Object")["rows"][0]["object"] is deployment
    assert "object" not in table(by_plural("deployments"), [deployment], "None")["rows"][0]
