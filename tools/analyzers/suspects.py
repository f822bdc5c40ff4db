"""Change-aware diagnosis: the changes on the failing dependency path, ranked by how close they came
before the symptom, as ``suspect_change`` findings that carry the diff.

The path is walked from the alerting service: Service → its selector → the workloads it selects →
their pods → the nodes they run on (all nodes when pods are Pending: scheduling depends on every
node), plus the ConfigMaps, Secrets and HPA each workload uses, the PDBs and NetworkPolicies of the
namespace, and the same again for the upstreams the service's errors point at. Nothing here knows a
fault: any field of any object on the path can be the suspect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tools.analyzers.snapshot import Snapshot
from tools.findings import Finding
from tools.journal import Change
from tools.journal.diff import MISSING, split_pointer, value_at
from tools.kubernetes.client import Obj
from tools.kubernetes.common import config_keys_read
from tools.kubernetes.revert import change_ref, why_not_revertible
from tools.kubernetes.shape import parse_time

WINDOW = timedelta(hours=2)
"""How long before the symptom a change can still be its cause."""

HISTORY = timedelta(days=7)
"""How far back the journal is read to know each object's oldest version."""

GRACE = timedelta(seconds=90)
"""A change recorded slightly after the alert's start still counts (clocks, and the alert's start is
when the signal first crossed, which may be just before the change was recorded)."""

MAX_SUSPECTS = 3
MAX_DIFF = 12

# Writers that react to the world rather than change it on purpose: their writes are not suspects.
_CONTROLLERS = ("controller", "kube-scheduler", "kubelet", "horizontal-pod-autoscaler", "devops-agent")
# Kinds that every pod in the namespace can depend on without naming them.
_NAMESPACE_WIDE = ("NetworkPolicy", "PodDisruptionBudget", "Ingress")


@dataclass
class FailingPath:
    """The objects the alerting service depends on, and which workload each one concerns."""

    objects: dict[tuple[str, str], str | None] = field(default_factory=dict)
    """(kind, name) → the workload it concerns (None for namespace-wide objects and nodes)."""

    def add(self, kind: str, name: str | None, workload: str | None) -> None:
        if name and (kind, name) not in self.objects:
            self.objects[(kind, name)] = workload

    keys: dict[tuple[str, str], frozenset[str] | None] = field(default_factory=dict)
    """(kind, name) of a ConfigMap or Secret → the keys the path's workloads read (None: all)."""

    def read(self, kind: str, name: str, keys: frozenset[str] | None) -> None:
        ref = (kind, name)
        if ref not in self.keys:
            self.keys[ref] = keys
        else:
            held = self.keys[ref]
            self.keys[ref] = None if held is None or keys is None else held | keys

    def unread(self, change: Change, pointer: str) -> bool:
        """The field is a ConfigMap or Secret key no workload on the path reads."""
        if change.kind not in ("ConfigMap", "Secret"):
            return False
        read = self.keys.get((change.kind, change.name))
        key = _config_key(pointer)
        return read is not None and key is not None and key not in read

    def covers(self, change: Change) -> bool:
        return (change.kind, change.name) in self.objects or change.kind in _NAMESPACE_WIDE


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _template_labels(dep: Obj) -> dict[str, str]:
    return dict(((dep.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {})


def _reads(dep: Obj) -> dict[tuple[str, str], frozenset[str] | None]:
    """ConfigMaps and Secrets a workload's pods read, with the keys they read (None: every key)."""
    return config_keys_read((dep.get("spec") or {}).get("template") or {})


def _add_workload(path: FailingPath, snap: Snapshot, dep: Obj) -> None:
    name = str(dep["metadata"]["name"])
    path.add("Deployment", name, name)
    for (kind, ref), keys in _reads(dep).items():
        path.add(kind, ref, name)
        path.read(kind, ref, keys)
    for hpa in snap.hpas:
        target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if target.get("name") == name:
            path.add("HorizontalPodAutoscaler", hpa["metadata"]["name"], name)
    pods = [p for p in snap.pods if snap.deployment_of(p) == name]
    nodes = {
        str((p.get("spec") or {}).get("nodeName")) for p in pods if (p.get("spec") or {}).get("nodeName")
    }
    if any(not (p.get("spec") or {}).get("nodeName") for p in pods) or not pods:
        nodes |= {str(n["metadata"]["name"]) for n in snap.nodes}  # unscheduled: every node matters
    for node in sorted(nodes):
        path.add("Node", node, name)


def _add_service(path: FailingPath, snap: Snapshot, name: str) -> None:
    svc = next((s for s in snap.services if s["metadata"]["name"] == name), None)
    deps: list[Obj] = []
    if svc is not None:
        path.add("Service", name, name)
        selector = (svc.get("spec") or {}).get("selector") or {}
        deps = [d for d in snap.deployments if _selects(selector, _template_labels(d))]
    own = snap.deployment(name)
    if own is not None and own not in deps:
        deps.append(own)
        # the service of this workload (its selector may be the very thing that broke)
        for s in snap.services:
            if (
                _selects(s.get("spec", {}).get("selector") or {}, _template_labels(own))
                or s["metadata"]["name"] == name
            ):
                path.add("Service", s["metadata"]["name"], name)
    for dep in deps:
        _add_workload(path, snap, dep)


def focus_services(findings: list[Finding], service: str | None, hops: int = 3) -> list[str]:
    """The alerting service, the upstreams its errors point at, and the clients of a saturated
    dependency; without a service, every workload with a critical symptom."""
    names = [service] if service else []
    if not names:
        names = sorted(
            {
                str(f.data.get("deployment"))
                for f in findings
                if f.severity == "critical" and f.data.get("deployment")
            }
        )
    for _ in range(hops):
        grown = list(names)
        for f in findings:
            data = f.data or {}
            if f.kind == "connection_errors" and data.get("deployment") in grown and data.get("upstream"):
                grown.append(str(data["upstream"]))
            if data.get("deployment") in grown or data.get("service") in grown:
                grown += [str(c) for c in data.get("clients") or [] if isinstance(c, str)]
        grown = list(dict.fromkeys(grown))
        if grown == names:
            break
        names = grown
    return names


def failing_path(snap: Snapshot, services: list[str]) -> FailingPath:
    path = FailingPath()
    for name in services:
        _add_service(path, snap, name)
    return path


RESTARTED_AT = "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"


def _inert(change: Change, path: FailingPath) -> bool:
    """Changes that alter no behaviour: an object's own labels and annotations (a Node's labels do:
    pods select nodes by them), a restart stamp, replicas the object's HPA set, and ConfigMap or
    Secret keys that no workload on the path reads (each reads named keys, none the whole object)."""
    autoscaled = any(
        k == "HorizontalPodAutoscaler" and w == change.name for (k, _), w in path.objects.items()
    )

    def inert(p: str) -> bool:
        if p.startswith("/metadata/"):
            return not (change.kind == "Node" and p.startswith("/metadata/labels"))
        if p == RESTARTED_AT or path.unread(change, p):
            return True
        return p == "/spec/replicas" and autoscaled and change.actor is None

    return all(inert(d.path) for d in change.diff)


def _by_controller(change: Change) -> bool:
    actor = (change.actor or "").lower()
    return any(c in actor for c in _CONTROLLERS)


def _summary(change: Change, gap: float) -> str:
    parts = []
    for d in change.diff[:2]:
        if d.op == "add":
            parts.append(f"{d.path} set to {d.new!r}")
        elif d.op == "remove":
            parts.append(f"{d.path} removed (was {d.old!r})")
        else:
            parts.append(f"{d.path} {d.old!r} → {d.new!r}")
    more = f" and {len(change.diff) - 2} more" if len(change.diff) > 2 else ""
    who = f" by {change.actor}" if change.actor else ""
    when = f"{abs(gap):.0f} s {'before' if gap >= 0 else 'after'} the symptom began"
    return f"{change.kind} {change.name} changed{who} {when}: " + ("; ".join(parts) or change.event) + more


def _superseded(change: Change, changes: list[Change]) -> bool:
    """A later change of the same object rewrote one of its fields (a revert, a fix, another edit):
    this one is no longer what the object holds there."""
    paths = {d.path for d in change.diff}
    return any(
        (later.time, later.id or 0) > (change.time, change.id or 0)
        and (later.kind, later.namespace, later.name) == (change.kind, change.namespace, change.name)
        and any(_overlap(d.path, p) for d in later.diff for p in paths)
        for later in changes
    )


def _overlap(a: str, b: str) -> bool:
    """One pointer names the other or a field inside it (an uncordon's ``/spec/unschedulable`` rewrites
    a cordon recorded as the whole ``/spec`` it added)."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def _baselines(changes: list[Change]) -> dict[tuple[str, str | None, str], Any]:
    """Each object's oldest known version: before its first recorded change (or as created)."""
    out: dict[tuple[str, str | None, str], Any] = {}
    for c in sorted(changes, key=lambda c: (c.time, c.id or 0)):
        key = (c.kind, c.namespace, c.name)
        if key not in out:
            out[key] = c.before if c.event == "modified" else c.after
    return out


def _restores(change: Change, baseline: Any) -> bool:
    """The change puts every field it touches back to the object's oldest known version (a revert,
    a rollback, a re-apply of the declared config): back to a state that served, so it is not where
    a new failure starts. A fault made twice is still a suspect the second time (0 replicas is not
    what the object first held)."""
    if baseline is None or not change.diff:
        return False
    for d in change.diff:
        held = value_at(baseline, d.path)
        if d.op == "remove" and held is not MISSING:
            return False
        if d.op != "remove" and (held is MISSING or held != d.new):
            return False
    return True


def rank_suspects(changes: list[Change], path: FailingPath, onset: datetime) -> list[tuple[Change, float]]:
    """Changes on the path made by someone (not a controller, not the agent) that the object still
    holds, closest before the onset first."""
    baselines = _baselines(changes)
    out = []
    for c in changes:
        if not path.covers(c) or _by_controller(c) or not c.diff or _superseded(c, changes):
            continue
        if _restores(c, baselines.get((c.kind, c.namespace, c.name))) or _inert(c, path):
            continue
        if c.event == "added" and c.kind not in _NAMESPACE_WIDE:
            continue  # the path's own objects being created is no regression; a new NetworkPolicy can be
        gap = (onset - c.time).total_seconds()
        if -GRACE.total_seconds() <= gap <= WINDOW.total_seconds():
            out.append((c, gap))
    # closest before the onset first; a change recorded just after it (within the grace) ranks
    # behind every change that came before
    return sorted(out, key=lambda cg: (cg[1] < 0, abs(cg[1])))[:MAX_SUSPECTS]


def suspect_findings(
    changes: list[Change],
    snap: Snapshot,
    path: FailingPath,
    onset: datetime,
    services: tuple[str, ...] | list[str] = (),
) -> list[Finding]:
    """``suspect_change`` findings for the changes on the failing path before ``onset``."""
    out = []
    for rank, (c, gap) in enumerate(rank_suspects(changes, path, onset), start=1):
        refusal = why_not_revertible(c)
        workload = path.objects.get((c.kind, c.name))
        out.append(
            Finding(
                kind="suspect_change",
                target=c.ref,
                summary=_summary(c, gap),
                severity="warning",
                evidence=[f"what_changed(namespace={snap.namespace!r}, object='{c.kind}/{c.name}')"],
                data={
                    "kind": c.kind,
                    "name": c.name,
                    "namespace": c.namespace,
                    "change": change_ref(c),
                    "changed_at": c.time.isoformat(),
                    "actor": c.actor,
                    "source": c.source,
                    "gap_s": round(gap, 1),
                    "rank": rank,
                    "diff": [d.as_dict() for d in c.diff[:MAX_DIFF]],
                    "revertible": refusal is None,
                    "why_not_revertible": refusal,
                    **({"deployment": workload} if workload else {}),
                    # every service whose failing path reaches it (so scoping to any of them keeps it)
                    "deployments": sorted({*(s for s in services if s), *([workload] if workload else [])}),
                    **({"consumers": _consumers(snap, c)} if c.kind in ("Secret", "ConfigMap") else {}),
                },
            )
        )
    return out


def _consumers(snap: Snapshot, change: Change) -> list[str]:
    """Workloads that read what the change touched (the whole object, or one of its changed keys)."""
    keys = {_config_key(d.path) for d in change.diff if not d.path.startswith("/metadata/")}
    out = []
    for dep in snap.deployments:
        ref = (change.kind, change.name)
        reads = _reads(dep)
        if ref in reads and (reads[ref] is None or None in keys or keys & set(reads[ref] or ())):
            out.append(str(dep["metadata"]["name"]))
    return sorted(out)


def _config_key(pointer: str) -> str | None:
    """The ConfigMap or Secret key a JSON Pointer names (``/data/KEY``), or None for anything else."""
    tokens = split_pointer(pointer)
    if len(tokens) == 2 and tokens[0] in ("data", "binaryData", "stringData"):
        return tokens[1]
    return None


def parse_onset(value: str | None) -> datetime | None:
    return parse_time(value) if value else None


__all__ = [
    "FailingPath",
    "failing_path",
    "focus_services",
    "parse_onset",
    "rank_suspects",
    "suspect_findings",
]
