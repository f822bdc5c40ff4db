"""Reading the desired state: YAML folders (multi-document), kustomize, a git ref; the sandbox's
committed manifests stay in sync with the platform they describe."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox import desired as sandbox_desired
from tools.desired.source import load
from tools.errors import BackendNotConfigured, ToolError

pytestmark = pytest.mark.timeout(60)

CM = """apiVersion: v1
kind: ConfigMap
metadata: {name: %s, namespace: ns}
data: {K: "%s"}
"""


def test_a_folder_reads_every_yaml_document_with_its_file_and_position(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "two.yaml").write_text(
        "# two objects\n---\n" + CM % ("one", "1") + "---\n" + CM % ("two", "2")
    )
    (tmp_path / "b.yml").write_text(CM % ("three", "3"))
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text(CM % ("hidden", "0"))
    state = load(tmp_path)
    assert [(d.name, d.file, d.document) for d in state.objects] == [
        ("one", "a/two.yaml", 0),
        ("two", "a/two.yaml", 1),
        ("three", "b.yml", 0),
    ]


def test_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BackendNotConfigured, match="DEVOPS_AGENT_DESIRED_STATE"):
        load(None)
    with pytest.raises(ToolError, match="does not exist"):
        load(tmp_path / "nope")
    (tmp_path / "bad.yaml").write_text("kind: [unclosed\n")
    with pytest.raises(ToolError, match=r"bad\.yaml is not valid YAML"):
        load(tmp_path)
    (tmp_path / "bad.yaml").write_text("just: data\n")
    with pytest.raises(ToolError, match=r"needs kind and metadata\.name"):
        load(tmp_path)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_a_kustomization_is_rendered_with_kubectl_kustomize(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(CM % ("base", "1"))
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [cm.yaml]\nnamePrefix: prod-\ncommonLabels: {team: core}\n"
    )
    (objects,) = [load(tmp_path).objects]
    assert [(d.name, d.file, d.obj["metadata"]["labels"]) for d in objects] == [
        ("prod-base", None, {"team": "core"})
    ]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd, check=True, capture_output=True, timeout=30,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_git_repository_is_read_at_a_ref_without_uncommitted_edits(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "cm.yaml").write_text(CM % ("app", "v1"))
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "v1")
    _git(tmp_path, "tag", "v1")
    (tmp_path / "cm.yaml").write_text(CM % ("app", "v2"))
    _git(tmp_path, "commit", "-qam", "v2")
    (tmp_path / "cm.yaml").write_text(CM % ("app", "uncommitted"))
    assert load(tmp_path).objects[0].obj["data"] == {"K": "v2"}
    assert load(tmp_path, "v1").objects[0].obj["data"] == {"K": "v1"}
    assert load(tmp_path, "v1").source.endswith("@v1")
    with pytest.raises(ToolError, match="reading ref 'nope'"):
        load(tmp_path, "nope")
    with pytest.raises(ToolError, match="cannot start with '-'"):
        load(tmp_path, "--output=/tmp/x")


def test_the_committed_sandbox_manifests_match_the_platform() -> None:
    wanted = sandbox_desired.rendered()
    root = sandbox_desired.MANIFESTS_DIR
    on_disk = {str(p.relative_to(root)): p.read_text() for p in root.glob("*/*.yaml")}
    assert on_disk == wanted, "sandbox/manifests is stale: run `python -m sandbox.desired` and commit it"


def test_the_sandbox_manifests_declare_no_server_fields() -> None:
    objects = load(sandbox_desired.MANIFESTS_DIR).objects
    assert len(objects) == 40
    for d in objects:
        assert "status" not in d.obj and "managedFields" not in d.obj["metadata"], d.ref
        assert "kubectl.kubernetes.io/last-applied-configuration" not in (
            d.obj["metadata"].get("annotations") or {}
        )
    hpa_targets = {
        (d.namespace, d.obj["spec"]["scaleTargetRef"]["name"])
        for d in objects
        if d.kind == "HorizontalPodAutoscaler"
    }
    for d in objects:
        if d.kind == "Deployment":
            assert ("replicas" in d.obj["spec"]) == ((d.namespace, d.name) not in hpa_targets), d.ref
