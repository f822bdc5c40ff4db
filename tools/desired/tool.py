"""The drift tools: ``drift`` (read) and ``desired_sync`` (write, through the guard), which is also
its own undo (``restore``: the record of what one sync replaced).

``desired_sync`` server-side applies the declared object as ``devops-agent-desired`` with
``force=true`` (it takes the drifted fields back from whoever edited them), leaving out the fields a
controller owns (``drift_ignored_managers``: the HPA keeps ``spec.replicas``). Its undo restores the
live version it replaced: the inverse JSON Patch of exactly the fields the sync changed, guarded by
``test`` operations so it never overwrites a later edit. That patch is kept as a record in the raw
dir and the undo (``desired_sync(..., restore=<record id>)``, a parameter left out of the model's
schema) names it, so the undo path never takes a patch from its caller. A Secret's previous values
are never stored, so a sync of a Secret has no undo (the tool says so).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic.json_schema import SkipJsonSchema

from tools.base import ActionEffect, ToolDeps, ToolResult, Undo, tool
from tools.budget import shaped
from tools.desired.drift import FIELD_MANAGER, ObjectDrift, check, check_object, render_text
from tools.desired.source import Declared, load
from tools.errors import ToolError, expected_errors
from tools.journal.diff import escape, field_diff, inverse_patch, split_pointer, value_at
from tools.journal.normalize import normalize
from tools.kubernetes.client import Kube, Obj, object_path, resource_for
from tools.kubernetes.common import Context
from tools.kubernetes.effects import action_result, rolling_disruption, target_of, yaml_diff
from tools.redact import redact_obj

JSON_PATCH = "application/json-patch+json"
_VOLATILE_META = ("resourceVersion", "generation", "uid", "managedFields", "creationTimestamp", "selfLink")


@dataclass(frozen=True)
class DesiredConfig:
    """Where the desired state is and how drift is judged, from the tool dependencies."""

    location: Path | None
    ref: str
    ignored: list[str]
    default_namespace: str

    @classmethod
    def of(cls, deps: ToolDeps) -> DesiredConfig:
        return cls(
            getattr(deps, "desired_state", None),
            str(getattr(deps, "desired_ref", "HEAD")),
            list(getattr(deps, "drift_ignored_managers", ("kube-controller-manager",))),
            str(getattr(deps, "default_namespace", "default")),
        )


@tool(risk="read", tags=("kubernetes", "drift"))
@expected_errors
def drift(deps: ToolDeps, namespace: str | None = None, context: Context = None) -> ToolResult:
    """Where the cluster differs from its manifests (desired state), field by field.
    Example: drift(namespace="ns")"""
    cfg = DesiredConfig.of(deps)
    desired = load(cfg.location, cfg.ref)
    report = check(
        Kube(deps, context),
        desired.objects,
        cfg.ignored,
        source=desired.source,
        namespace=namespace,
        default_namespace=cfg.default_namespace,
    )
    return shaped(deps, "drift", render_text(report), report.as_dict())


def find_declared(deps: ToolDeps, kind: str, name: str, namespace: str | None) -> Declared:
    cfg = DesiredConfig.of(deps)
    default_ns = cfg.default_namespace
    desired = load(cfg.location, cfg.ref)
    res = resource_for(kind)
    for d in desired.objects:
        same_ns = not res.namespaced or (d.namespace or default_ns) == (namespace or default_ns)
        if d.kind == res.kind and d.name == name and same_ns:
            return d
    raise ToolError(
        f"{res.kind} {namespace + '/' if namespace else ''}{name} is not declared in {desired.source}: "
        "there is nothing to sync it to (list what is declared and drifted with drift())"
    )


def _plain(obj: Obj) -> Obj:
    """The object without status and server bookkeeping (values kept as they are: for the undo only)."""
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
    out["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE_META}
    return out


def _without(obj: Obj, pointers: list[str]) -> Obj:
    """``obj`` without the map fields the pointers name (list positions are left alone)."""
    out = copy.deepcopy(obj)
    for pointer in pointers:
        tokens = split_pointer(pointer)
        parent: Any = out
        for token in tokens[:-1]:
            parent = parent.get(token) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and tokens:
            parent.pop(tokens[-1], None)
    return out


def _undo_dir(deps: ToolDeps) -> Path:
    return Path(deps.raw_dir) / "drift-undo"


def _undo(
    deps: ToolDeps, res_kind: str, name: str, ns: str | None, live: Obj, after: Obj, context: str | None
) -> Undo | None:
    """The undo recipe: the inverse patch is kept in a file named by its hash, and the undo names it, so
    the undo can only ever restore what a sync replaced (no caller can hand in a patch of its own)."""
    if res_kind == "Secret":
        return None
    diff = field_diff(_plain(live), _plain(after))
    tests = [{"op": "test", "path": d.path, "value": d.new} for d in diff if d.op != "remove"]
    patch = tests + inverse_patch(diff)
    if not diff or redact_obj(patch) != patch:  # a secret-looking value is never written to a file
        return None
    record = json.dumps({"kind": res_kind, "name": name, "namespace": ns, "patch": patch}, sort_keys=True)
    ref = hashlib.sha256(record.encode()).hexdigest()[:16]
    folder = _undo_dir(deps)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{ref}.json").write_text(record, encoding="utf-8")
    return Undo(
        tool="desired_sync",
        args={
            "kind": res_kind,
            "name": name,
            **({"namespace": ns} if ns else {}),
            "restore": ref,
            **({"context": context} if context else {}),
        },
        description=f"restore the live version of {res_kind} {name} the sync replaced",
    )


@tool(risk="write", tags=("kubernetes", "action", "drift"))
@expected_errors
def desired_sync(
    deps: ToolDeps,
    kind: str,
    name: str,
    namespace: str | None = None,
    restore: Annotated[str | None, SkipJsonSchema()] = None,
    context: Context = None,
    *,
    dry_run: bool = False,
) -> ToolResult:
    """Sync a drifted object back to its manifest (server-side apply).
    Example: desired_sync(kind="ConfigMap", name="api-config", namespace="ns")"""
    res = resource_for(kind)
    cfg = DesiredConfig.of(deps)
    ns = (namespace or cfg.default_namespace) if res.namespaced else None
    if restore is not None:
        patch = _undo_record(deps, restore, res.kind, name, ns)
        return restore_version(Kube(deps, context), res.kind, name, ns, patch, context, dry_run)
    declared = find_declared(deps, res.kind, name, ns)
    kube = Kube(deps, context)
    found: ObjectDrift | None = check_object(kube, declared, cfg.ignored, ns or cfg.default_namespace)
    obj = dict(declared.obj)
    obj["metadata"] = {**(obj.get("metadata") or {}), **({"namespace": ns} if ns else {})}
    if found is not None:
        obj = _without(obj, found.ignored)
    live = kube.get(res.kind, name, ns) if found is None or found.state != "missing" else None
    if found is None:
        effect = ActionEffect(target=target_of(live or obj, res.kind, context), changed=False)
        return action_result(verb="sync to desired state", effect=effect, dry_run=dry_run)
    after = kube.apply(obj, field_manager=FIELD_MANAGER, force=True, dry_run=dry_run)
    if found.extra and live is not None:
        after = _remove_undeclared(kube, res.kind, name, ns, live, after, found.extra, dry_run)
    label = f"{res.kind.lower()}/{name}"
    effect = ActionEffect(
        target=target_of(live or after, res.kind, context),
        changed=True,
        diff=yaml_diff(normalize(live, res.kind) if live else {}, normalize(after, res.kind), label),
        undo=_undo(deps, res.kind, name, ns, live, after, context) if live else None,
        **_disruption(res.kind, live, after),
        expected_effect=f"{res.kind} {name} matches {declared.file or 'its manifest'} again"
        + (
            "; pods roll to the declared template"
            if res.kind in ("Deployment", "StatefulSet", "DaemonSet")
            else ""
        ),
    )
    result = action_result(
        verb="sync to desired state",
        effect=effect,
        dry_run=dry_run,
        data={"drift": found.as_dict(), "undo_missing_reason": _no_undo_reason(res.kind, effect)},
    )
    return result


def _remove_undeclared(
    kube: Kube,
    kind: str,
    name: str,
    ns: str | None,
    live: Obj,
    after: Obj,
    pointers: list[str],
    dry_run: bool,
) -> Obj:
    """Remove the fields added by hand that the manifest lacks (the apply keeps what it does not own).

    Guarded by ``test`` operations with the live values; a dry run removes them from the dry-run result
    (the apply was not stored, so there is nothing to patch)."""
    order = sorted(
        pointers, key=lambda p: [int(t) if t.isdigit() else 0 for t in split_pointer(p)], reverse=True
    )
    ops: list[dict[str, Any]] = [{"op": "test", "path": p, "value": value_at(live, p)} for p in pointers]
    ops += [{"op": "remove", "path": p} for p in order]
    if dry_run:
        result = copy.deepcopy(after)
        for p in order:
            tokens = split_pointer(p)
            parent = value_at(result, "".join(f"/{escape(t)}" for t in tokens[:-1]))
            if isinstance(parent, dict):
                parent.pop(tokens[-1], None)
            elif isinstance(parent, list) and tokens[-1].isdigit() and int(tokens[-1]) < len(parent):
                parent.pop(int(tokens[-1]))
        return result
    res = resource_for(kind)
    out: Obj = kube.request(
        "PATCH",
        object_path(res, ns, name),
        body=ops,
        content_type=JSON_PATCH,
        what=f"removing the undeclared fields of {kind} {ns + '/' if ns else ''}{name}",
    )
    return out


def _disruption(kind: str, live: Obj | None, after: Obj) -> dict[str, Any]:
    """Blast-radius figures: a changed pod template rolls the workload's pods, a few at a time."""
    if kind != "Deployment" or live is None:
        return {"pods_disrupted": 0}
    replicas = int((live.get("spec") or {}).get("replicas") or 0)
    rolls = normalize(live, kind).get("spec", {}).get("template") != normalize(after, kind).get(
        "spec", {}
    ).get("template")
    return {
        "pods_total": replicas,
        "replicas_before": replicas,
        "replicas_after": int((after.get("spec") or {}).get("replicas") or 0),
        "pods_disrupted": rolling_disruption(live) if rolls else 0,
    }


def _no_undo_reason(kind: str, effect: ActionEffect) -> str | None:
    if effect.undo is not None:
        return None
    if kind == "Secret":
        return "a Secret's previous values are never stored, so this sync cannot be undone automatically"
    return "the replaced live version holds secret-looking values, which are never stored in the audit log"


def _undo_record(deps: ToolDeps, ref: str, kind: str, name: str, ns: str | None) -> list[dict[str, Any]]:
    path = _undo_dir(deps) / f"{ref}.json"
    if not ref.isalnum() or not path.is_file():
        raise ToolError(
            f"no record {ref!r} of a sync to undo in {path.parent}: only the undo a sync returned can restore "
            "the version it replaced (re-apply the old version by hand, or adopt it)"
        )
    record = json.loads(path.read_text(encoding="utf-8"))
    if (record.get("kind"), record.get("name"), record.get("namespace")) != (kind, name, ns):
        raise ToolError(
            f"the undo record {ref!r} is for {record.get('kind')} {record.get('namespace')}/{record.get('name')}, "
            f"not {kind} {ns}/{name}"
        )
    patch: list[dict[str, Any]] = record["patch"]
    return patch


def restore_version(
    kube: Kube,
    kind: str,
    name: str,
    ns: str | None,
    patch: list[dict[str, Any]],
    context: str | None,
    dry_run: bool,
) -> ToolResult:
    """The undo of a sync: the live version it replaced, back through a guarded JSON Patch."""
    res = resource_for(kind)
    live = kube.get(res.kind, name, ns)
    where = f"{res.kind} {ns + '/' if ns else ''}{name}"
    try:
        after: Obj = kube.request(
            "PATCH",
            object_path(res, ns, name),
            query={"dryRun": "All" if dry_run else None},
            body=patch,
            content_type=JSON_PATCH,
            what=where,
        )
    except ToolError as exc:
        if "test" in str(exc).lower():
            raise ToolError(
                f"{where} changed again after the sync, so restoring the version before it would overwrite "
                f"a later edit; nothing was changed. Look at drift() and what_changed first. ({exc})"
            ) from None
        raise
    diff = yaml_diff(normalize(live, res.kind), normalize(after, res.kind), f"{res.kind.lower()}/{name}")
    effect = ActionEffect(
        target=target_of(live, res.kind, context),
        changed=bool(diff),
        diff=diff,
        pods_disrupted=0,
        expected_effect=f"{where} is back to the live version the sync replaced (drift again)",
    )
    return action_result(verb="restore the version before the sync", effect=effect, dry_run=dry_run)
