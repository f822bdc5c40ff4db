"""Reading the desired state: every object a folder of manifests or a git repository declares.

- A folder: every ``*.yaml``/``*.yml`` file under it (sorted, multi-document), or, when it holds a
  ``kustomization.yaml``, what ``kubectl kustomize`` renders from it.
- A local git repository (the folder holds ``.git``, or is a bare repository): the tree of a ref
  (``HEAD`` by default) is exported with ``git archive`` into a temporary folder and read as above,
  so uncommitted edits are not desired state. No network: nothing is fetched.

Each object remembers the file and document it came from (relative to the folder or repository
root), so a live edit can be written back as a patch of that file (``tools.desired.adopt``).
Objects rendered by kustomize have no single source file.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.errors import BackendNotConfigured, ToolError

Obj = dict[str, Any]
KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_TIMEOUT_S = 60


@dataclass(frozen=True)
class Declared:
    """One declared object and where it was declared."""

    obj: Obj
    file: str | None  # relative to the desired-state root; None when kustomize rendered it
    document: int = 0  # which of the file's (non-empty) YAML documents

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name") or "")

    @property
    def namespace(self) -> str | None:
        ns = (self.obj.get("metadata") or {}).get("namespace")
        return str(ns) if ns else None

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass(frozen=True)
class DesiredState:
    """The declared objects, and what was read (for messages)."""

    objects: list[Declared]
    source: str
    root: Path  # where the files are (a temporary export for a git ref: gone after load)


def is_git_repo(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def load(location: Path | None, ref: str = "HEAD") -> DesiredState:
    """Every object the desired state at ``location`` declares (a folder or a git repository)."""
    if location is None:
        raise BackendNotConfigured(
            "no desired state is configured: set DEVOPS_AGENT_DESIRED_STATE to a folder of manifests "
            "or a local git repository (the sandbox's is sandbox/manifests)"
        )
    path = location.expanduser()
    if not path.exists():
        raise ToolError(
            f"the desired state {str(path)!r} does not exist: point DEVOPS_AGENT_DESIRED_STATE at a folder "
            "of manifests or a git repository"
        )
    if path.is_dir() and is_git_repo(path):
        with tempfile.TemporaryDirectory(prefix="devops-agent-desired-") as tmp:
            _export(path, ref, Path(tmp))
            objects = read_folder(Path(tmp))
        return DesiredState(objects, f"{path}@{ref}", path)
    if path.is_file():
        return DesiredState(read_file(path, path.name), str(path), path.parent)
    return DesiredState(read_folder(path), str(path), path)


def read_folder(root: Path) -> list[Declared]:
    """The objects of a folder: kustomize output when it has a kustomization, else its YAML files."""
    if any((root / k).is_file() for k in KUSTOMIZATIONS):
        return _parse(_kustomize(root), None, str(root))
    out: list[Declared] = []
    for file in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
        if any(part.startswith(".") for part in file.relative_to(root).parts):
            continue
        out += read_file(file, str(file.relative_to(root)))
    return out


def read_file(file: Path, rel: str) -> list[Declared]:
    return _parse(file.read_text(encoding="utf-8"), rel, rel)


def _parse(text: str, rel: str | None, where: str) -> list[Declared]:
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ToolError(f"the desired state file {where} is not valid YAML: {exc}") from None
    out: list[Declared] = []
    for index, doc in enumerate(d for d in docs if d is not None):
        if not isinstance(doc, dict) or not doc.get("kind") or not (doc.get("metadata") or {}).get("name"):
            raise ToolError(
                f"document {index} of {where} is not a Kubernetes object (it needs kind and metadata.name)"
            )
        if doc["kind"].endswith("List") and isinstance(doc.get("items"), list):
            out += [Declared(item, None, index) for item in doc["items"] if isinstance(item, dict)]
        else:
            out.append(Declared(doc, rel, index))
    return out


def _run(cmd: list[str], what: str) -> bytes:
    binary = shutil.which(cmd[0])
    if binary is None:
        raise ToolError(
            f"{cmd[0]} is not installed, and {what} needs it; install {cmd[0]} or render the manifests"
        )
    done = subprocess.run([binary, *cmd[1:]], capture_output=True, timeout=_TIMEOUT_S, check=False)
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()[:500]
        raise ToolError(f"{what} failed ({' '.join(cmd)} exited {done.returncode}): {err}")
    return done.stdout


def _kustomize(root: Path) -> str:
    return _run(["kubectl", "kustomize", str(root)], f"rendering the kustomization in {root}").decode()


def _export(repo: Path, ref: str, into: Path) -> None:
    """The tree of ``ref`` in ``repo`` written under ``into`` (``git archive``, no checkout, no fetch)."""
    if ref.startswith("-"):
        raise ToolError(f"invalid git ref {ref!r}: a ref cannot start with '-'")
    data = _run(["git", "-C", str(repo), "archive", "--format=tar", ref], f"reading ref {ref!r} of {repo}")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
