"""Sync and adopt of drifted objects: a sync goes through the guard of policy.example.yaml (nothing
happens before an approval), restores the desired state, leaves HPA-owned replicas alone and can be
undone; an adopt patch applies with ``git apply`` and makes the desired files match the cluster."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import yaml
from drift_world import NS, Platform, plat_fixture  # noqa: F401

from agent.audit import AuditLog
from agent.drift import adopt, run_check, sync
from agent.policy import load_policy
from tools.registry import default_registry

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]
CM = f"/api/v1/namespaces/{NS}/configmaps/predictor-config"
DEP = f"/apis/apps/v1/namespaces/{NS}/deployments/predictor"


def _settings(p: Platform, tmp_path: Path) -> SimpleNamespace:
    return SimpleNamespace(
        desired_state=p.manifests,
        desired_ref="HEAD",
        drift_ignored_managers=["kube-controller-manager"],
        default_namespace=NS,
        data_dir=tmp_path / "data",
        slo_dir=None,
    )


def _deps(p: Platform, tmp_path: Path) -> SimpleNamespace:
    policy = load_policy(ROOT / "policy.example.yaml")
    guardrails = policy.guardrails.model_copy(update={"freeze_windows": [], "cooldown_s": 0})
    return SimpleNamespace(
        settings=_settings(p, tmp_path),
        tools=default_registry(),
        tool_deps=p.deps,
        policy=policy.model_copy(update={"guardrails": guardrails}),
        audit=AuditLog(tmp_path / "audit.sqlite"),
        now=lambda: datetime.now(UTC),
        extra={},
    )


def _data(p: Platform) -> dict[str, str]:
    return dict(p.store.get("configmaps", NS, "predictor-config")["data"])


def test_sync_waits_for_approval_then_restores_desired_and_can_be_undone(
    plat: Platform, tmp_path: Path
) -> None:
    plat.edit(CM, {"data": {"WORKERS": "16"}})
    deps = _deps(plat, tmp_path)
    args = {"kind": "ConfigMap", "name": "predictor-config", "namespace": NS}

    waiting = sync(deps, args, "alice", approved=False)
    assert waiting["status"] == "needs_approval" and "WORKERS" in waiting["diff"]
    assert _data(plat)["WORKERS"] == "16"  # nothing happened before the approval

    done = sync(deps, args, "alice", approved=True)
    assert done["status"] == "applied", done
    assert _data(plat)["WORKERS"] == "4"
    assert run_check(deps.settings, plat.deps, NS).drifted == []
    (applied,) = deps.audit.rows(kind="action_applied")
    assert applied.actor == "alice" and applied.data["tool"] == "desired_sync"

    undo = applied.data["effect"]["undo"]
    assert undo["tool"] == "desired_sync" and undo["args"]["restore"].isalnum()
    restored = deps.tools.get("desired_sync").invoke(plat.deps, undo["args"])
    assert restored.status == "ok", restored.text
    assert _data(plat)["WORKERS"] == "16"  # the live version the sync replaced
    again = deps.tools.get("desired_sync").invoke(plat.deps, undo["args"])
    assert again.status == "error" and "changed again" in again.text  # the test ops refuse a second run
    forged = deps.tools.get("desired_sync").invoke(plat.deps, {**undo["args"], "restore": "0123456789abcdef"})
    assert forged.status == "error" and "only the undo a sync returned" in forged.text
    other = deps.tools.get("desired_sync").invoke(plat.deps, {**undo["args"], "name": "api-gateway-config"})
    assert (
        other.status == "error" and "is for ConfigMap" in other.text
    )  # a record restores its own object only


def test_sync_of_a_deployment_restores_the_image_and_leaves_hpa_replicas(
    plat: Platform, tmp_path: Path
) -> None:
    path = plat.manifests / NS / "deployment-predictor.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["spec"]["replicas"] = 3
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    httpx.patch(
        plat.server.url + DEP + "/scale",
        params={"fieldManager": "kube-controller-manager"},
        content=json.dumps({"spec": {"replicas": 5}}),
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=10,
    ).raise_for_status()
    image = "registry.local/market-predictor/predictor:9.9.9"
    plat.edit(DEP, {"spec": {"template": {"spec": {"containers": [{"name": "predictor", "image": image}]}}}})
    deps = _deps(plat, tmp_path)
    out = sync(deps, {"kind": "Deployment", "name": "predictor", "namespace": NS}, "alice", approved=True)
    assert out["status"] == "applied", out
    live = plat.store.get("deployments", NS, "predictor")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"].endswith("predictor:1.4.0")
    assert live["spec"]["replicas"] == 5  # the HPA's field was not taken back


def test_a_secret_sync_has_no_undo_and_says_why(plat: Platform, tmp_path: Path) -> None:
    plat.edit(
        f"/api/v1/namespaces/{NS}/secrets/cache-credentials",
        {"data": {"password": base64.b64encode(b"x").decode()}},
    )
    tool = default_registry().get("desired_sync")
    result = tool.invoke(
        plat.deps, {"kind": "Secret", "name": "cache-credentials", "namespace": NS}, dry_run=True
    )
    assert result.status == "ok" and result.effect is not None and result.effect.undo is None
    assert "never stored" in result.data["undo_missing_reason"]


def test_sync_of_an_object_that_matches_is_a_no_op(plat: Platform, tmp_path: Path) -> None:
    out = sync(
        _deps(plat, tmp_path),
        {"kind": "ConfigMap", "name": "predictor-config", "namespace": NS},
        "alice",
        approved=True,
    )
    assert out["status"] == "noop"


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_adopt_writes_patches_git_apply_accepts_and_that_end_the_drift(
    plat: Platform, tmp_path: Path
) -> None:
    plat.edit(CM, {"data": {"WORKERS": "16"}})
    image = "registry.local/market-predictor/predictor:1.4.1"
    plat.edit(DEP, {"spec": {"template": {"spec": {"containers": [{"name": "predictor", "image": image}]}}}})
    plat.edit(
        f"/api/v1/namespaces/{NS}/secrets/cache-credentials",
        {"data": {"password": base64.b64encode(b"x").decode()}},
    )
    settings = _settings(plat, tmp_path)
    report = run_check(settings, plat.deps, NS)
    written = adopt(settings, plat.deps, report)
    assert written[f"Secret/{NS}/cache-credentials"].startswith("not adopted:")  # values never go to files
    patches = [Path(w) for w in written.values() if not w.startswith("not adopted")]
    assert sorted(p.name for p in patches) == [
        f"configmap-{NS}-predictor-config.patch",
        f"deployment-{NS}-predictor.patch",
    ]
    assert all(p.parent == tmp_path / "data" / "drift" / "adopt" for p in patches)

    review = tmp_path / "review"
    shutil.copytree(plat.manifests, review)
    _git(review, "init", "-q")
    for patch in patches:
        _git(review, "apply", "--check", str(patch))
        _git(review, "apply", str(patch))
    dep_patch = next(p for p in patches if p.name.startswith("deployment")).read_text()
    changed = [line for line in dep_patch.splitlines()[2:] if line[:1] in "+-"]
    assert changed == [f"-        image: {image[:-1]}0", f"+        image: {image}"]  # only the edited line
    dep_doc = yaml.safe_load((review / NS / "deployment-predictor.yaml").read_text())
    assert dep_doc["spec"]["template"]["spec"]["containers"][0]["image"] == image
    assert (
        yaml.safe_load((review / NS / "configmap-predictor-config.yaml").read_text())["data"]["WORKERS"]
        == "16"
    )
    _git(review, "add", "-A")
    _git(review, "-c", "user.name=reviewer", "-c", "user.email=r@example.invalid", "commit", "-qm", "adopt")
    settings.desired_state = review  # now a git repository: its HEAD tree is the desired state
    left = {d.ref for d in run_check(settings, plat.deps, NS).drifted}
    assert left == {f"Secret/{NS}/cache-credentials"}  # the adopted objects match; the Secret was not adopted
    assert (plat.manifests / NS / "configmap-predictor-config.yaml").read_text() == (
        Path(__file__).resolve().parents[2] / "sandbox" / "manifests" / NS / "configmap-predictor-config.yaml"
    ).read_text()  # the desired files themselves are never touched


def test_sync_removes_fields_added_by_hand_and_the_undo_puts_them_back(
    plat: Platform, tmp_path: Path
) -> None:
    svc = f"/api/v1/namespaces/{NS}/services/cache"
    plat.edit(svc, {"metadata": {"labels": {"owner": "bob"}}}, manager="kubectl-label")
    deps = _deps(plat, tmp_path)
    out = sync(deps, {"kind": "Service", "name": "cache", "namespace": NS}, "alice", approved=True)
    assert out["status"] == "applied", out
    assert "owner" not in plat.store.get("services", NS, "cache")["metadata"]["labels"]
    assert run_check(deps.settings, plat.deps, NS).drifted == []
    (applied,) = deps.audit.rows(kind="action_applied")
    undo = applied.data["effect"]["undo"]
    assert deps.tools.get(undo["tool"]).invoke(plat.deps, undo["args"]).status == "ok"
    assert plat.store.get("services", NS, "cache")["metadata"]["labels"]["owner"] == "bob"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_adopt_declares_a_label_added_by_hand(plat: Platform, tmp_path: Path) -> None:
    plat.edit(
        f"/api/v1/namespaces/{NS}/services/cache",
        {"metadata": {"labels": {"owner": "bob"}}},
        manager="kubectl-label",
    )
    settings = _settings(plat, tmp_path)
    (patch,) = adopt(settings, plat.deps, run_check(settings, plat.deps, NS)).values()
    _git(plat.manifests, "apply", patch)  # outside a repository git apply works like patch -p1
    assert (
        yaml.safe_load((plat.manifests / NS / "service-cache.yaml").read_text())["metadata"]["labels"][
            "owner"
        ]
        == "bob"
    )
    assert run_check(settings, plat.deps, NS).drifted == []
