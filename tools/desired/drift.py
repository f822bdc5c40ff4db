"""Drift: how the live cluster differs from the desired state, field by field.

For each declared object the API server is asked what a server-side apply of it would leave
(``PATCH`` ``application/apply-patch+yaml``, ``fieldManager=devops-agent-desired``, ``force=true``,
``dryRun=All``) and what the object is now (a no-op dry-run patch, so both sides went through the
same defaulting). Both are normalized (``tools.journal.normalize``: no status, no server metadata,
no controller annotations, secret values replaced by hashes) and compared. What is left out:

- defaulted fields: the apply merges into the live object, so a default the manifest does not
  state is kept on both sides;
- fields whose last writer is a controller listed in ``drift_ignored_managers`` (the HPA writes
  ``spec.replicas`` through the scale subresource as ``kube-controller-manager``);
- status and metadata noise (resourceVersion, managedFields, generation, controller annotations).

A field added by hand that the manifest does not declare is drift too (``op: remove``), found from
``managedFields``: a field written last by a manager that is not an applier of declared state
(:data:`APPLIERS`: ``kubectl apply``, Helm, Argo CD, Flux, this agent's sync) nor an ignored
controller, that the manifest lacks. A field this applier declared before and the manifest now omits
is drift as well (the apply removes it).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from tools.desired.ownership import latest_owner, undeclared
from tools.desired.source import Declared
from tools.errors import NotFound, ToolError
from tools.journal.diff import escape, field_diff, split_pointer, value_at
from tools.journal.model import ABSENT, FieldChange
from tools.journal.normalize import normalize
from tools.kubernetes.client import Kube, Obj, object_path, resource_for
from tools.redact import redact_obj

FIELD_MANAGER = "devops-agent-desired"
"""The field manager the desired state is applied (and dry-run applied) as."""

State = Literal["drifted", "missing"]
APPLIERS = ("kubectl-client-side-apply", "kubectl", "helm", "argocd-controller", "kustomize-controller")
"""Managers that write declared state: what they wrote beyond the manifest is not a hand edit."""
RESTART_MARKERS = frozenset({"kubectl.kubernetes.io/restartedAt", "devops-agent.io/restarted-for"})
"""Annotations a restart stamps on an object: an operation, not configuration."""
WORKERS = 4
"""Objects checked at once (two API requests each)."""


@dataclass
class ObjectDrift:
    """One declared object that does not match the cluster."""

    declared: Declared
    state: State
    fields: list[FieldChange] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # differing fields an ignored manager owns
    extra: list[str] = field(default_factory=list)  # fields added by hand that the manifest lacks

    @property
    def ref(self) -> str:
        return self.declared.ref

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.declared.kind,
            "name": self.declared.name,
            "namespace": self.declared.namespace,
            "file": self.declared.file,
            "state": self.state,
            "fields": [_field_dict(f) for f in self.fields],
            "ignored_fields": self.ignored,
            "undeclared_fields": self.extra,
        }


@dataclass
class DriftReport:
    """Every drifted object of one check, and what could not be checked."""

    source: str
    checked: int
    drifted: list[ObjectDrift]
    errors: dict[str, str] = field(default_factory=dict)  # object ref -> why it was not checked
    namespaces: list[str] = field(default_factory=list)  # the namespaces the checked objects live in

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "checked": self.checked,
            "namespaces": self.namespaces,
            "drifted": [d.as_dict() for d in self.drifted],
            "errors": self.errors,
        }


def _field_dict(change: FieldChange) -> dict[str, Any]:
    out: dict[str, Any] = {"path": change.path, "op": change.op}
    if change.old is not ABSENT:
        out["live"] = redact_obj(change.old)
    if change.new is not ABSENT:
        out["desired"] = redact_obj(change.new)
    return out


def _namespaced(declared: Declared, default_namespace: str) -> Obj:
    obj = dict(declared.obj)
    res = resource_for(declared.kind)
    meta = dict(obj.get("metadata") or {})
    if res.namespaced and not meta.get("namespace"):
        meta["namespace"] = default_namespace
    obj["metadata"] = meta
    return obj


def _current(kube: Kube, obj: Obj) -> Obj | None:
    """The live object passed through the server's defaulting (a no-op dry-run patch), None if absent."""
    res = resource_for(str(obj["kind"]))
    meta = obj["metadata"]
    namespace = meta.get("namespace") if res.namespaced else None
    try:
        live: Obj = kube.request(
            "PATCH",
            object_path(res, namespace, meta["name"]),
            query={"dryRun": "All"},
            body={},
            content_type="application/merge-patch+json",
            what=f"{res.kind} {namespace + '/' if namespace else ''}{meta['name']}",
        )
    except NotFound:
        return None
    return live


def check_object(
    kube: Kube,
    declared: Declared,
    ignored_managers: Iterable[str],
    default_namespace: str = "default",
    appliers: Iterable[str] = APPLIERS,
) -> ObjectDrift | None:
    """The drift of one declared object, or None when the cluster matches it."""
    obj = _namespaced(declared, default_namespace)
    live = _current(kube, obj)
    if live is None:
        return ObjectDrift(declared, "missing", [FieldChange(path="", op="add", new=normalize(obj))])
    applied = kube.apply(obj, field_manager=FIELD_MANAGER, force=True, dry_run=True)
    before, after = normalize(live, declared.kind), normalize(applied, declared.kind)
    entries = (live.get("metadata") or {}).get("managedFields") or []
    ignored = set(ignored_managers)
    appliers = list(appliers)
    kept: list[FieldChange] = []
    skipped: list[str] = []
    for change in field_diff(before, after):
        doc = before if change.op == "remove" else after
        owner = latest_owner(entries, doc, split_pointer(change.path))
        if owner in ignored:
            skipped.append(change.path)
            continue
        kept.append(change)
    extra = undeclared_fields(entries, before, normalize(obj, declared.kind), appliers, ignored, kept)
    if not kept and not extra:
        return None
    return ObjectDrift(declared, "drifted", kept + extra, skipped, [c.path for c in extra])


def undeclared_fields(
    entries: list[Obj],
    live: Obj,
    declared: Obj,
    appliers: Iterable[str],
    ignored: set[str],
    found: list[FieldChange],
) -> list[FieldChange]:
    """Fields someone added by hand that the manifest does not declare (``op: remove``: the sync removes
    them). Only writers that are not appliers of the desired state count, and only for the fields they
    wrote last; restart stamps are operations, not configuration."""
    skip = set(appliers) | {FIELD_MANAGER} | ignored
    seen = {c.path for c in found}
    out: list[FieldChange] = []
    for entry in entries:
        manager = str(entry.get("manager") or "")
        if manager in skip or entry.get("subresource") == "status":
            continue
        for tokens in undeclared(entry.get("fieldsV1") or {}, live, declared):
            pointer = "".join(f"/{escape(t)}" for t in tokens)
            if not tokens or tokens[-1] in RESTART_MARKERS or _under(pointer, seen):
                continue
            if latest_owner(entries, live, tokens) != manager:
                continue
            out.append(FieldChange(path=pointer, op="remove", old=value_at(live, pointer)))
            seen.add(pointer)
    return out


def _under(pointer: str, seen: set[str]) -> bool:
    return any(pointer == s or pointer.startswith(s + "/") or s.startswith(pointer + "/") for s in seen)


def check(
    kube: Kube,
    objects: list[Declared],
    ignored_managers: Iterable[str],
    *,
    source: str,
    namespace: str | None = None,
    default_namespace: str = "default",
    appliers: Iterable[str] = APPLIERS,
) -> DriftReport:
    """Drift of every declared object (only those in ``namespace`` when given)."""
    ignored = list(ignored_managers)
    wanted = [d for d in objects if namespace is None or _in_namespace(d, namespace, default_namespace)]
    drifted: list[ObjectDrift] = []
    errors: dict[str, str] = {}

    def one(declared: Declared) -> ObjectDrift | str | None:
        try:
            return check_object(kube, declared, ignored, default_namespace, list(appliers))
        except ToolError as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="drift") as pool:
        for declared, found in zip(wanted, pool.map(one, wanted), strict=True):  # in declaration order
            if isinstance(found, str):
                errors[declared.ref] = found
            elif found is not None:
                drifted.append(found)
    namespaces = sorted(
        {d.namespace or default_namespace for d in wanted if d.kind != "Namespace" and _namespaced_kind(d)}
    )
    return DriftReport(source, len(wanted), drifted, errors, namespaces)


def _in_namespace(declared: Declared, namespace: str, default_namespace: str) -> bool:
    """Whether a namespace filter keeps the object: its own objects, and the Namespace itself."""
    if declared.kind == "Namespace":
        return declared.name == namespace
    if not _namespaced_kind(declared):
        return False
    return (declared.namespace or default_namespace) == namespace


def _namespaced_kind(declared: Declared) -> bool:
    try:
        return resource_for(declared.kind).namespaced
    except ToolError:
        return declared.namespace is not None


def render_text(report: DriftReport, limit: int = 20) -> str:
    """The report as lines a human reads: each drifted object, then its fields (live -> desired)."""
    if not report.drifted:
        text = f"no drift: {report.checked} objects match {report.source}"
    else:
        lines = [f"{len(report.drifted)} of {report.checked} objects drifted from {report.source}:"]
        for d in report.drifted[:limit]:
            lines.append(f"- {d.ref} ({d.state}){f' [{d.declared.file}]' if d.declared.file else ''}")
            lines += [f"    {_field_line(f)}" for f in d.fields[:limit]]
        text = "\n".join(lines)
    if report.errors:
        text += "\nnot checked: " + "; ".join(f"{ref}: {why}" for ref, why in report.errors.items())
    return text


def _short(value: Any) -> str:
    text = repr(redact_obj(value))
    return text if len(text) <= 120 else text[:117] + "..."


def _field_line(change: FieldChange) -> str:
    where = change.path or "(whole object)"
    if change.op == "add":
        return f"{where}: missing live, desired {_short(change.new)}"
    if change.op == "remove":
        return f"{where}: live {_short(change.old)}, not desired"
    return f"{where}: live {_short(change.old)} -> desired {_short(change.new)}"
