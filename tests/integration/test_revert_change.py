"""Change-aware diagnosis and the generic revert against the Kubernetes stand-in.

Hand edits made with kubectl are recorded by the journal; triage with an onset ranks the ones on the
failing path as ``suspect_change`` findings; ``k8s_revert_change`` sends the exact inverse of the
recorded diff (its dry run changes nothing, its diff is that inverse), refuses to overwrite a later
edit, can be undone, and never restores a Secret.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from journal_helpers import Journal, wait_for
from kube_fixtures import NS, World, needs_kubectl, world_fixture  # noqa: F401

from tools.analysis import triage
from tools.deps import Deps
from tools.journal import changes_for, field_diff, normalize
from tools.kubernetes.client import Kube
from tools.kubernetes.revert import change_ref, k8s_revert_change

pytestmark = [pytest.mark.timeout(90), needs_kubectl]

MANIFEST = f"""
apiVersion: v1
kind: Secret
metadata: {{name: shop-db, namespace: {NS}}}
stringData: {{password: first-Secret-Value}}
---
apiVersion: v1
kind: Service
metadata: {{name: shop, namespace: {NS}}}
spec:
  selector: {{app: shop}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: shop, namespace: {NS}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: shop}}}}
  template:
    metadata: {{labels: {{app: shop}}}}
    spec:
      containers:
      - name: shop
        image: shop:v1
        env:
        - name: DB_PASSWORD
          valueFrom: {{secretKeyRef: {{name: shop-db, key: password}}}}
"""


def _setup(world: World, tmp_path: Path) -> tuple[Journal, Deps]:
    journal = Journal(world.kubeconfig, tmp_path / "data" / "journal.sqlite")
    journal.start()
    world.kubectl("apply", "-f", "-", stdin=MANIFEST)
    deps = Deps(kubeconfig=world.kubeconfig, journal_path=journal.path, raw_dir=tmp_path / "raw")
    return journal, deps


def _service(deps: Deps) -> dict[str, Any]:
    return normalize(Kube(deps, None).get("service", "shop", NS), "Service")


def _suspects(deps: Deps, onset: datetime) -> list[dict[str, Any]]:
    result = triage.invoke(deps, {"namespace": NS, "service": "shop", "onset": onset.isoformat()})
    assert result.status == "ok", result.text
    return [f for f in result.data["findings"] if f["kind"] == "suspect_change"]


def test_a_hand_edit_on_the_path_is_the_suspect_and_its_revert_is_the_exact_inverse(
    world: World, tmp_path: Path
) -> None:
    journal, deps = _setup(world, tmp_path)
    before = _service(deps)
    world.kubectl(
        "-n", NS, "patch", "svc", "shop", "-p", '{"spec":{"ports":[{"port":80,"targetPort":9090}]}}'
    )
    assert wait_for(lambda: len(journal.changes_of("Service", "shop")) == 2), journal.status
    journal.settle(NS)

    suspects = _suspects(deps, datetime.now(UTC) + timedelta(seconds=5))
    assert suspects, "the targetPort edit on the alerting service's path must be a suspect"
    top = suspects[0]["data"]
    assert (top["kind"], top["name"], top["revertible"]) == ("Service", "shop", True)
    assert top["diff"] == [{"path": "/spec/ports/0/targetPort", "op": "replace", "old": 8080, "new": 9090}]

    args = {"kind": "Service", "name": "shop", "namespace": NS, "change": top["change"]}
    dry = k8s_revert_change.invoke(deps, args, dry_run=True)
    assert dry.status == "ok", dry.text
    assert _service(deps)["spec"]["ports"][0]["targetPort"] == 9090  # the dry run changed nothing
    assert dry.effect is not None and dry.effect.changed
    assert "-  - targetPort: 9090" in dry.effect.diff or "targetPort: 9090" in dry.effect.diff
    # the patch is the inverse of the recorded diff, guarded by tests of the values the change set
    assert dry.data["patch"] == [
        {"op": "test", "path": "/spec/ports/0/targetPort", "value": 9090},
        {"op": "replace", "path": "/spec/ports/0/targetPort", "value": 8080},
    ]

    applied = k8s_revert_change.invoke(deps, args)
    assert applied.status == "ok", applied.text
    after = _service(deps)
    assert field_diff(before, after) == []  # back exactly as before the edit

    undo = applied.effect.undo if applied.effect else None
    assert undo is not None and undo.args["reapply"] is True
    again = k8s_revert_change.invoke(deps, undo.args)
    assert again.status == "ok", again.text
    assert _service(deps)["spec"]["ports"][0]["targetPort"] == 9090  # the undo re-applies the change
    journal.stop()


def test_a_revert_never_overwrites_a_later_edit(world: World, tmp_path: Path) -> None:
    journal, deps = _setup(world, tmp_path)
    world.kubectl("-n", NS, "scale", "deploy", "shop", "--replicas=0")
    assert wait_for(lambda: len(journal.changes_of("Deployment", "shop")) == 2), journal.status
    scaled = journal.changes_of("Deployment", "shop")[-1]
    world.kubectl("-n", NS, "scale", "deploy", "shop", "--replicas=4")  # someone else, afterwards
    assert wait_for(lambda: len(journal.changes_of("Deployment", "shop")) == 3), journal.status
    journal.stop()

    args = {"kind": "Deployment", "name": "shop", "namespace": NS, "change": change_ref(scaled)}
    result = k8s_revert_change.invoke(deps, args)
    assert result.status == "error"
    assert "changed again" in result.text
    assert Kube(deps, None).get("deployment", "shop", NS)["spec"]["replicas"] == 4


def test_a_changed_secret_is_named_never_restored(world: World, tmp_path: Path) -> None:
    journal, deps = _setup(world, tmp_path)
    new = base64.b64encode(b"second-Secret-Value").decode()
    world.kubectl("-n", NS, "patch", "secret", "shop-db", "-p", json.dumps({"data": {"password": new}}))
    assert wait_for(lambda: len(journal.changes_of("Secret", "shop-db")) == 2), journal.status
    journal.settle(NS)
    journal.stop()

    suspects = _suspects(deps, datetime.now(UTC) + timedelta(seconds=5))
    secret = next(f for f in suspects if f["data"]["kind"] == "Secret")
    assert secret["data"]["revertible"] is False
    assert "never stored" in secret["data"]["why_not_revertible"]
    assert secret["data"]["consumers"] == ["shop"]
    text = json.dumps(secret)
    assert "second-Secret-Value" not in text and new not in text and "first-Secret-Value" not in text

    changes = changes_for(
        deps, NS, datetime.now(UTC) - timedelta(minutes=10), objects=[("Secret", "shop-db")]
    )
    ref = change_ref(changes[-1])
    result = k8s_revert_change.invoke(
        deps, {"kind": "Secret", "name": "shop-db", "namespace": NS, "change": ref}
    )
    assert result.status == "error" and "never stored" in result.text


def test_the_agents_own_revert_is_never_a_suspect_nor_the_change_it_undid(
    world: World, tmp_path: Path
) -> None:
    journal, deps = _setup(world, tmp_path)
    world.kubectl(
        "-n", NS, "patch", "svc", "shop", "-p", '{"spec":{"ports":[{"port":80,"targetPort":9090}]}}'
    )
    assert wait_for(lambda: len(journal.changes_of("Service", "shop")) == 2), journal.status
    journal.settle(NS)
    top = _suspects(deps, datetime.now(UTC) + timedelta(seconds=5))[0]["data"]
    args = {"kind": "Service", "name": "shop", "namespace": NS, "change": top["change"]}
    assert k8s_revert_change.invoke(deps, args).status == "ok"
    assert wait_for(lambda: len(journal.changes_of("Service", "shop")) == 3), journal.status
    revert = journal.changes_of("Service", "shop")[-1]
    assert revert.actor == "devops-agent"  # every write of the agent names it in managedFields
    journal.settle(NS)
    journal.stop()
    # a follow-up incident right after: neither the agent's revert nor the edit it undid is suspected
    later = [f["data"] for f in _suspects(deps, datetime.now(UTC) + timedelta(seconds=5))]
    assert not [s for s in later if (s["kind"], s["name"]) == ("Service", "shop")], later


def test_a_cordon_is_reverted_key_by_key_leaving_the_taint_a_controller_added_next_to_it(
    world: World, tmp_path: Path
) -> None:
    """Seen in the eval (every node cordoned): the cordon added ``spec`` as a whole, the node controller
    then put its taint there, and the revert's test of the whole ``spec`` failed, so nothing could be
    uncordoned. The revert now removes the key the change set, and keeps the later one. The node
    controller's own taint is not a change of its own (it mirrors the cordon): a later run tried to
    revert it instead of the cordon, and its test failed on the ``timeAdded`` the server holds."""
    journal, deps = _setup(world, tmp_path)
    world.kubectl("apply", "-f", "-", stdin="apiVersion: v1\nkind: Node\nmetadata: {name: spare-1}\n")
    assert wait_for(lambda: journal.changes_of("Node", "spare-1")), journal.status
    world.kubectl("cordon", "spare-1")
    assert wait_for(lambda: len(journal.changes_of("Node", "spare-1")) == 2), journal.status
    cordon = journal.changes_of("Node", "spare-1")[-1]
    assert [d.path for d in cordon.diff] == ["/spec"]  # the whole map, as the journal saw it appear
    controller = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    dedicated = {
        "key": "dedicated",
        "value": "batch",
        "effect": "NoExecute",
        "timeAdded": "2026-12-01T10:00:00Z",
    }
    taints = [controller, dedicated]
    Kube(deps, None).patch("node", "spare-1", None, {"spec": {"taints": taints}}, dry_run=False)
    assert wait_for(lambda: len(journal.changes_of("Node", "spare-1")) == 3), journal.status
    journal.stop()
    tainted = journal.changes_of("Node", "spare-1")[-1]
    assert "node.kubernetes.io" not in json.dumps([d.new for d in tainted.diff])  # only the human's taint
    assert "timeAdded" not in json.dumps([d.new for d in tainted.diff])

    args = {"kind": "Node", "name": "spare-1", "change": change_ref(cordon)}
    dry = k8s_revert_change.invoke(deps, args, dry_run=True)
    assert dry.status == "ok", dry.text
    assert "unschedulable" in (dry.effect.diff if dry.effect else "")
    done = k8s_revert_change.invoke(deps, args)
    assert done.status == "ok", done.text
    spec = Kube(deps, None).get("node", "spare-1", None)["spec"]
    assert "unschedulable" not in spec and spec["taints"] == taints
    undo = k8s_revert_change.invoke(deps, {**args, "reapply": True})  # cordoned again, key by key too
    assert undo.status == "ok", undo.text
    spec = Kube(deps, None).get("node", "spare-1", None)["spec"]
    assert spec["unschedulable"] is True and spec["taints"] == taints

    untaint = k8s_revert_change.invoke(
        deps, {"kind": "Node", "name": "spare-1", "change": change_ref(tainted)}
    )
    assert untaint.status == "ok", untaint.text  # tested against the taint as the server holds it
    assert dedicated not in (Kube(deps, None).get("node", "spare-1", None)["spec"].get("taints") or [])
