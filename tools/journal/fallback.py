"""What the cluster itself remembers, for changes made before the journal started (or without one).

- ``replicaset``: a Deployment's ReplicaSets keep its pod templates; the current one against the
  previous one is the rollout's diff (``/spec/template/...``), timed when the current one started.
- ``last-applied``: ``kubectl apply`` keeps what it last applied in an annotation; where the live
  object differs from it, someone edited by hand since. Only fields the apply set are compared
  (added keys are server defaults), except items added to a list the apply set.
- ``managedFields``: the newest write of any other object, with its manager; no diff is known.

Every record says its ``source``. Secrets stay keys and hashes (the annotation of a Secret holds
its values: it is normalized like the Secret itself before anything is compared).
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from tools.errors import ToolError
from tools.journal.diff import field_diff, split_pointer
from tools.journal.model import Change, FieldChange
from tools.journal.normalize import LAST_APPLIED, normalize
from tools.journal.recorder import managers_of
from tools.kubernetes.client import Kube, Obj
from tools.kubernetes.rollout import revision_of
from tools.kubernetes.shape import parse_time

APPLY_MANAGERS = ("kubectl-client-side-apply", "kubectl")


def _newest_write(obj: Obj, skip: tuple[str, ...] = ()) -> tuple[str | None, str | None, datetime | None]:
    best: tuple[str | None, str | None, datetime | None] = (None, None, None)
    for manager, operation, subresource, when, _ in managers_of(obj):
        t = parse_time(when)
        if t is None or subresource == "status" or manager in skip:
            continue
        if best[2] is None or t > best[2]:
            best = (manager or None, operation or None, t)
    return best


def _ident(obj: Obj) -> tuple[str | None, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or None, str(meta.get("name") or "")


def _template(rs: Obj) -> Any:
    template = json.loads(json.dumps((rs.get("spec") or {}).get("template") or {}))
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    return normalize({"spec": {"template": template}}, "ReplicaSet").get("spec", {}).get("template")


def replicaset_changes(kube: Kube, namespace: str | None, since: datetime) -> list[Change]:
    """Rollouts since ``since``: the current ReplicaSet's template against the previous one's."""
    by_dep: dict[tuple[str | None, str], list[Obj]] = {}
    for rs in kube.list("replicaset", namespace):
        refs = (rs.get("metadata") or {}).get("ownerReferences") or []
        owner = next((r.get("name") for r in refs if r.get("kind") == "Deployment"), None)
        if owner:
            by_dep.setdefault((_ident(rs)[0], str(owner)), []).append(rs)
    out = []
    for (ns, dep), sets in by_dep.items():
        sets.sort(key=revision_of, reverse=True)
        if len(sets) < 2:
            continue
        current, previous = sets[0], sets[1]
        started = parse_time((current.get("metadata") or {}).get("creationTimestamp"))
        written = _newest_write(current)[2]
        when = max(t for t in (started, written) if t is not None) if (started or written) else None
        if when is None or when < since:
            continue
        diff = field_diff(_template(previous), _template(current), "/spec/template")
        if not diff:
            continue
        out.append(
            Change(
                kind="Deployment",
                namespace=ns,
                name=dep,
                time=when,
                source="replicaset",
                diff=diff,
                before={"spec": {"template": _template(previous)}},
                after={"spec": {"template": _template(current)}},
                resource_version=f"revision {revision_of(previous)} -> {revision_of(current)}",
            )
        )
    return out


def _applied_parents(applied: Any) -> set[str]:
    """Pointers of every list in the applied object (items added to them are hand edits)."""
    out: set[str] = set()

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}/{str(k).replace('~', '~0').replace('/', '~1')}")
        elif isinstance(value, list):
            out.add(path)
            for i, v in enumerate(value):
                walk(v, f"{path}/{i}")

    walk(applied, "")
    return out


def last_applied_change(obj: Obj, kind: str) -> Change | None:
    """Hand edits since the last ``kubectl apply``: the applied fields that the live object changed."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not raw:
        return None
    try:
        applied = normalize(json.loads(raw), kind)
    except (json.JSONDecodeError, AttributeError):
        return None
    live = normalize(obj, kind)
    lists = _applied_parents(applied)
    kept: list[FieldChange] = []
    for change in field_diff(applied, live):
        parent = "/" + "/".join(
            t.replace("~", "~0").replace("/", "~1") for t in split_pointer(change.path)[:-1]
        )
        if change.op != "add" or parent in lists:
            kept.append(change)
    if not kept:
        return None
    manager, operation, when = _newest_write(obj, skip=APPLY_MANAGERS)
    if when is None:
        return None
    ns, name = _ident(obj)
    return Change(
        kind=kind, namespace=ns, name=name, time=when, actor=manager, operation=operation,
        source="last-applied", diff=kept, before=applied, after=live,
        resource_version=str((obj.get("metadata") or {}).get("resourceVersion") or "") or None,
    )  # fmt: skip


def object_changes(
    kube: Kube, kinds: tuple[str, ...], namespace: str | None, since: datetime
) -> list[Change]:
    """Per object: its hand edits since the last apply, else its newest write (no diff known)."""
    out = []
    for kind in kinds:
        try:
            objs = kube.list(kind, None if kind == "Node" else namespace)
        except ToolError:
            continue  # forbidden or not served: the other kinds still help
        for obj in objs:
            edit = last_applied_change(obj, kind)
            if edit is not None and edit.time >= since:
                out.append(edit)
                continue
            manager, operation, when = _newest_write(obj)
            created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
            if when is None or when < since or (created is not None and when <= created):
                continue
            ns, name = _ident(obj)
            out.append(
                Change(
                    kind=kind,
                    namespace=ns,
                    name=name,
                    time=when,
                    actor=manager,
                    operation=operation,
                    source="managedFields",
                    after=normalize(obj, kind),
                    resource_version=str((obj.get("metadata") or {}).get("resourceVersion") or "") or None,
                )
            )
    return out


def fallback_changes(
    kube: Kube,
    kinds: tuple[str, ...],
    namespace: str | None,
    since: datetime,
    before: datetime | None = None,
) -> list[Change]:
    """Fallback records in ``[since, before)`` (``before`` = when the journal took over)."""
    out: list[Change] = []
    with contextlib.suppress(ToolError):
        out += replicaset_changes(kube, namespace, since)
    out += object_changes(kube, kinds, namespace, since)
    limit = before or datetime.max.replace(tzinfo=UTC)
    return [c for c in out if c.time < limit]
