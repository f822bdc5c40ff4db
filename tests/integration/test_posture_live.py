"""Posture on live objects through the agent's Kubernetes client (the API stand-in), and its two
automated fixes through the guard: in approve mode a fix is a pending approval and nothing changes;
after a human approves, it is applied once, with an audit row and an undo."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kube_fixtures import NS, World, world_fixture  # noqa: F401

from agent.approvals import ApprovalDecision, ApprovalError, ApprovalStore
from agent.audit import AuditLog
from agent.mcp_calls import decide_detached
from agent.policy import Policy
from agent.posture import apply_approved, propose_fixes
from tools.deps import Deps
from tools.posture.fixes import proposals
from tools.posture.run import run_checks
from tools.posture.sources import load_live
from tools.registry import default_registry

pytestmark = pytest.mark.timeout(60)
DIGEST = "sha256:" + "ab" * 32


def _deps(world: World, tmp_path: Path, autonomy: str = "approve") -> SimpleNamespace:
    policy = Policy.model_validate({"default_autonomy": autonomy, "guardrails": {"cooldown_s": 0}})
    return SimpleNamespace(
        settings=SimpleNamespace(slo_dir=None, approval_ttl_s=3600),
        tools=default_registry(),
        tool_deps=Deps(kubeconfig=world.kubeconfig, raw_dir=tmp_path / "raw"),
        policy=policy,
        audit=AuditLog(tmp_path / "audit.sqlite"),
        approvals=ApprovalStore(tmp_path / "approvals.sqlite"),
        now=lambda: datetime.now(UTC),
        extra={},
    )


def _report_pods_digest(world: World, digests: tuple[str, ...] = (DIGEST, DIGEST)) -> None:
    """What a kubelet reports once it pulled the image: the digest in each container status."""
    for i, digest in enumerate(digests):

        def set_id(pod: dict[str, Any], digest: str = digest) -> None:
            pod["status"]["containerStatuses"][0]["imageID"] = f"docker.io/library/api@{digest}"

        world.store.mutate("pods", NS, f"api-h2-{i}", set_id)


def _approve(deps: SimpleNamespace, approval_id: str) -> None:
    decide_detached(
        deps.approvals,
        deps.policy,
        deps.audit,
        ApprovalDecision(approval_id=approval_id, decision="approve", approver="cli:alice"),
    )


def _fix(deps: SimpleNamespace, tool: str) -> dict[str, Any]:
    report = run_checks(load_live(deps.tool_deps, NS), namespace=NS)
    (fix,) = [f for f in proposals(report.findings) if f["tool"] == tool]
    (out,) = propose_fixes(deps, [fix], "cli:bob")  # type: ignore[arg-type]
    return out


def test_live_posture_reads_the_cluster_without_reading_secrets(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path)
    inventory = load_live(deps.tool_deps, NS)
    assert inventory.of_kind("Secret") == []  # the seeded api-secret is never read
    report = run_checks(inventory, namespace=NS)
    objects = {f.as_dict()["object"] for f in report.findings}
    assert "Deployment/market-predictor/api" in objects
    assert not any(o.startswith("Pod/") for o in objects)  # the pods belong to the deployment
    assert {"pdb-missing", "image-digest", "network-policy-missing"} <= {f.check.id for f in report.findings}
    assert report.notes == []  # every kind posture reads is served, RBAC included


def test_a_pdb_waits_for_a_human_then_is_created_once_with_an_audit_row(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path)
    out = _fix(deps, "k8s_set_pdb")
    assert out["status"] == "pending_approval" and out["args"] == {"deployment": "api", "namespace": NS}
    assert "maxUnavailable 1" in out["diff"]
    assert world.store.list("poddisruptionbudgets", NS) == []  # nothing changed yet
    req = deps.approvals.get(out["approval_id"])
    assert req.status == "pending" and req.detached and req.incident_id.startswith("posture-")
    again = _fix(deps, "k8s_set_pdb")  # a second --fix does not ask twice
    assert again["approval_id"] == req.id and len(deps.approvals.list(status="pending")) == 1
    with pytest.raises(ApprovalError, match="is pending, not approved"):
        apply_approved(deps, req.id, "cli:bob")  # type: ignore[arg-type]
    assert world.store.list("poddisruptionbudgets", NS) == []

    _approve(deps, req.id)
    done = apply_approved(deps, req.id, "cli:bob")  # type: ignore[arg-type]
    assert done["status"] == "applied", done
    (pdb,) = world.store.list("poddisruptionbudgets", NS)
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "api"}}}
    (row,) = deps.audit.rows(kind="action_applied")
    assert row.actor == "cli:alice" and row.data["approval_id"] == req.id and row.data["via"] == "posture"
    assert row.data["effect"]["undo"]["args"] == {"deployment": "api", "namespace": NS, "remove": True}
    assert apply_approved(deps, req.id, "cli:bob")["status"] == "noop"  # type: ignore[arg-type]
    assert len(world.store.list("poddisruptionbudgets", NS)) == 1

    after = run_checks(load_live(deps.tool_deps, NS), namespace=NS)
    assert "pdb-missing" not in {f.check.id for f in after.findings}


def test_the_pdb_undo_removes_only_what_the_agent_added(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path)
    tool = deps.tools.get("k8s_set_pdb")
    args = {"deployment": "api", "namespace": NS}
    assert tool.invoke(deps.tool_deps, args).status == "ok"
    assert len(world.store.list("poddisruptionbudgets", NS)) == 1
    again = tool.invoke(deps.tool_deps, args)
    assert again.effect is not None and not again.effect.changed  # a budget already covers the pods
    removed = tool.invoke(deps.tool_deps, {**args, "remove": True})
    assert removed.status == "ok" and world.store.list("poddisruptionbudgets", NS) == []
    assert removed.effect is not None and removed.effect.undo is not None
    assert removed.effect.undo.args == args  # undoing the removal adds it back
    world.store.create(
        "poddisruptionbudgets",
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": {"name": "api-pdb", "namespace": NS}, "spec": {"minAvailable": 1}},
    )  # fmt: skip
    refused = tool.invoke(deps.tool_deps, {**args, "remove": True})
    assert refused.status == "error" and "was not created by devops-agent" in refused.text
    assert len(world.store.list("poddisruptionbudgets", NS)) == 1


def test_a_digest_pin_uses_what_the_pods_report_and_waits_for_approval(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path)
    _report_pods_digest(world)
    out = _fix(deps, "k8s_pin_image_digest")
    assert out["status"] == "pending_approval", out
    assert f"api:v2 -> api:v2@{DIGEST}" in out["diff"]

    def image() -> str:
        return str(
            world.store.get("deployments", NS, "api")["spec"]["template"]["spec"]["containers"][0]["image"]
        )

    assert image() == "api:v2"
    _approve(deps, out["approval_id"])
    assert apply_approved(deps, out["approval_id"], "cli:bob")["status"] == "applied"  # type: ignore[arg-type]
    assert image() == f"api:v2@{DIGEST}"
    (row,) = deps.audit.rows(kind="action_applied")
    assert row.data["effect"]["undo"] == {
        "tool": "k8s_set_image",
        "args": {"deployment": "api", "namespace": NS, "container": "api", "image": "api:v2"},
        "description": "restore image api:v2",
    }


def test_a_tag_that_moved_is_not_pinned(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path)
    _report_pods_digest(world, (DIGEST, "sha256:" + "cd" * 32))
    result = deps.tools.get("k8s_pin_image_digest").invoke(
        deps.tool_deps, {"deployment": "api", "namespace": NS, "container": "api"}, dry_run=True
    )
    assert (
        result.status == "error"
        and "2 different builds of api:v2" in result.text
        and "the tag moved" in result.text
    )


def test_observe_mode_refuses_the_fix_and_changes_nothing(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path, autonomy="observe")
    out = _fix(deps, "k8s_set_pdb")
    assert out["status"] == "denied" and "observe mode" in " ".join(out["reasons"])
    assert world.store.list("poddisruptionbudgets", NS) == [] and deps.approvals.list(status="pending") == []


def test_the_posture_tool_answers_the_reasoner(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path)
    result = deps.tools.get("posture_check").invoke(deps.tool_deps, {"namespace": NS})
    assert result.status == "ok"
    assert f"{NS}: score" in result.text and "pdb-missing Deployment/market-predictor/api" in result.text
    assert {f["tool"] for f in result.data["fixes"]} == {"k8s_set_pdb", "k8s_pin_image_digest"}


def test_the_cli_proposes_then_applies_an_approved_fix(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`posture --fix`, `approvals approve`, `posture --apply`, as a user types them."""
    import importlib

    from typer.testing import CliRunner

    from agent.cli import app

    for mod in ("posture_cmd", "approvals_cmd"):
        importlib.import_module(f"agent.cli.{mod}")
    policy = tmp_path / "policy.yaml"
    policy.write_text("default_autonomy: approve\nguardrails: {cooldown_s: 0}\n")
    monkeypatch.chdir(tmp_path)
    for key, value in {
        "KUBECONFIG": world.kubeconfig,
        "DATA_DIR": tmp_path / "data",
        "POLICY_FILE": policy,
        "EMBEDDING": "hashing",
        "REASONER": "planner",
    }.items():
        monkeypatch.setenv(f"DEVOPS_AGENT_{key}", str(value))
    monkeypatch.delenv("DEVOPS_AGENT_CHROMA_URL", raising=False)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args))
        return " ".join(result.output.split())

    proposed = run("posture", "-n", NS, "--fix")
    assert "pending_approval: k8s_set_pdb on market-predictor/api: approval apr-" in proposed
    approval_id = proposed.split("k8s_set_pdb on market-predictor/api: approval ", 1)[1].split()[0]
    assert world.store.list("poddisruptionbudgets", NS) == []
    decided = run("approvals", "approve", approval_id, "--as", "cli:alice")
    assert "proposed by devops-agent posture --fix" in decided and f"posture --apply {approval_id}" in decided
    applied = run("posture", "--apply", approval_id)
    assert applied.startswith("applied: add PodDisruptionBudget api-pdb"), applied
    assert [p["metadata"]["name"] for p in world.store.list("poddisruptionbudgets", NS)] == ["api-pdb"]


def test_cronjobs_are_checked_live_and_their_jobs_through_them(world: World, tmp_path: Path) -> None:
    pod_spec = {
        "containers": [{"name": "backup", "image": "backup:1.0", "securityContext": {"privileged": True}}]
    }
    cron = world.store.create(
        "cronjobs",
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "backup", "namespace": NS},
         "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": pod_spec}}}}},
    )  # fmt: skip
    owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": "backup", "uid": cron["metadata"]["uid"]}
    world.store.create(
        "jobs",
        {"apiVersion": "batch/v1", "kind": "Job",
         "metadata": {"name": "backup-29000000", "namespace": NS, "ownerReferences": [owner]},
         "spec": {"template": {"spec": pod_spec}}},
    )  # fmt: skip
    report = run_checks(load_live(_deps(world, tmp_path).tool_deps, NS), namespace=NS)
    privileged = [f.as_dict()["object"] for f in report.findings if f.check.id == "pod-privileged"]
    assert privileged == ["CronJob/market-predictor/backup"]


def test_the_compliance_report_carries_the_live_posture(world: World, tmp_path: Path) -> None:
    """`report compliance` takes its posture section from the cluster as it is (the same checks)."""
    from agent.reports.posture_section import compliance_section
    from agent.reports.sections import SectionContext
    from agent.settings import Settings

    settings = Settings(data_dir=tmp_path, kubeconfig=world.kubeconfig)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    section = compliance_section(SectionContext(now, now, Policy.model_validate({}), settings))
    report = run_checks(load_live(Deps(kubeconfig=world.kubeconfig, raw_dir=tmp_path / "raw"), None))
    assert section.data["findings"] == len(report.findings) > 0
    assert NS in section.data["namespaces"]
    assert f"| {NS} | {report.scores[NS].score:g} |" in "\n".join(section.lines)
    assert section.status == ("attention" if section.data["severe"] else "ok")
