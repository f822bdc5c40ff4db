"""What a posture check is, what it reports, and the objects it runs over."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Obj = dict[str, Any]
Severity = Literal["critical", "high", "medium", "low"]
SEVERITY_WEIGHT: dict[str, int] = {"critical": 10, "high": 5, "medium": 3, "low": 1}

# A check returns None when it does not apply to the object, [] when the object passes, and one
# line per problem when it fails ("container app: securityContext.privileged is true").
CheckFunc = Callable[[Obj, "Inventory"], list[str] | None]


@dataclass(frozen=True)
class Check:
    """One posture check: what it looks for, why it matters and how to fix it."""

    id: str
    family: str
    severity: Severity
    title: str
    why: str
    fix: str
    kinds: frozenset[str]
    func: CheckFunc
    checkov: tuple[str, ...] = ()
    fix_action: str | None = None  # the guarded tool that fixes it, when that is safe to automate

    def run(self, obj: Obj, inv: Inventory) -> list[str] | None:
        if obj.get("kind") not in self.kinds:
            return None
        return self.func(obj, inv)


@dataclass(frozen=True)
class Source:
    """Where an object came from: a manifest file and line, or the live cluster."""

    path: str | None = None
    line: int | None = None


@dataclass
class Inventory:
    """The objects one posture run looks at, indexed by kind, with where each came from."""

    objects: list[Obj] = field(default_factory=list)
    sources: dict[int, Source] = field(default_factory=dict)
    live: bool = False
    notes: list[str] = field(default_factory=list)

    def add(self, obj: Obj, source: Source | None = None) -> None:
        self.objects.append(obj)
        if source is not None:
            self.sources[id(obj)] = source

    def extend(self, objs: Iterable[Obj]) -> None:
        for obj in objs:
            self.add(obj)

    def of_kind(self, kind: str, namespace: str | None = None) -> list[Obj]:
        return [
            o
            for o in self.objects
            if o.get("kind") == kind and (namespace is None or namespace_of(o) == namespace)
        ]

    def source(self, obj: Obj) -> Source:
        return self.sources.get(id(obj), Source())


def namespace_of(obj: Obj) -> str:
    """The object's namespace; manifests without one land in ``default`` as kubectl would put
    them, cluster-scoped kinds in ``(cluster)``."""
    if obj.get("kind") in CLUSTER_KINDS:
        return CLUSTER
    return str((obj.get("metadata") or {}).get("namespace") or "default")


CLUSTER = "(cluster)"
CLUSTER_KINDS = frozenset({"ClusterRole", "ClusterRoleBinding", "Namespace", "Node"})


def ref(obj: Obj) -> str:
    """``Kind/namespace/name`` (cluster-scoped: ``Kind//name``), as findings name objects."""
    ns = "" if obj.get("kind") in CLUSTER_KINDS else namespace_of(obj)
    return f"{obj.get('kind')}/{ns}/{(obj.get('metadata') or {}).get('name', '?')}"


@dataclass(frozen=True)
class Finding:
    """One object that failed one check."""

    check: Check
    obj: Obj
    problems: tuple[str, ...]
    source: Source

    @property
    def namespace(self) -> str:
        return namespace_of(self.obj)

    def as_dict(self) -> dict[str, Any]:
        meta = self.obj.get("metadata") or {}
        return {
            "check": self.check.id,
            "severity": self.check.severity,
            "title": self.check.title,
            "object": ref(self.obj),
            "kind": self.obj.get("kind"),
            "namespace": self.namespace,
            "name": meta.get("name"),
            "problems": list(self.problems),
            "fix": self.check.fix,
            "fixable": self.check.fix_action is not None,
            "file": self.source.path,
            "line": self.source.line,
        }
