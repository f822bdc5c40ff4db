"""``k8s_revert_change``: undo one recorded change of one object, whatever field it touched.

The change comes from the change journal (or what the cluster keeps, see ``tools.journal``); the
patch is the exact inverse of its field diff (ports, selectors, replicas, resources, probes, command
and args, nodeSelector and affinity, HPA bounds, a node's cordon — no list of special cases), sent
as a JSON Patch that first *tests* that every changed field still holds the value the change set:
if someone changed the object again since, nothing is applied and the agent says so.

Same contract as the other actions: a server-side dry run on request, a semantic diff, blast-radius
figures and an undo (``reapply=True`` applies the recorded change again). A Secret is never
restored: its old value was never stored, so the tool refuses and says who consumes it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field

from tools.base import ActionEffect, ToolDeps, ToolResult, Undo, tool
from tools.errors import NotFound, ToolError, expected_errors
from tools.journal import Change, FieldChange, changes_for, inverse_patch, normalize
from tools.journal.diff import MISSING, field_diff, value_at
from tools.journal.normalize import HASH_PREFIX
from tools.kubernetes.client import Kube, Obj, object_path, resource_for
from tools.kubernetes.common import Context
from tools.kubernetes.effects import action_result, rolling_disruption, target_of, yaml_diff

LOOKBACK = timedelta(days=7)
"""How far back a change id is looked up."""

JSON_PATCH = "application/json-patch+json"
_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def change_ref(change: Change) -> str:
    """The id a revert names a change by: ``j<row>`` for a journal record, else the fallback source and
    the object's resourceVersion (``last-applied@1234``), so the same change always has the same id."""
    if change.id is not None:
        return f"j{change.id}"
    stamp = change.resource_version or change.time.strftime("%Y%m%dT%H%M%S")
    return f"{change.source}@{stamp}"


def find_change(
    deps: ToolDeps, kind: str, name: str, namespace: str | None, ref: str, context: str | None
) -> Change:
    since = datetime.now(UTC) - LOOKBACK
    for c in changes_for(deps, namespace, since, objects=[(kind, name)], context=context):
        if change_ref(c) == ref and c.kind == kind and c.name == name:
            return c
    raise NotFound(
        f"no recorded change {ref!r} of {kind} {namespace + '/' if namespace else ''}{name} in the last "
        f"{LOOKBACK.days} days; list them with what_changed(namespace={namespace!r}, object='{kind}/{name}')"
    )


def _tests(diff: list[FieldChange], *, reapply: bool) -> list[dict[str, Any]]:
    """``test`` operations: every field still holds what the change set (or, to reapply, what it
    replaced), so a revert never overwrites a later edit."""
    ops = []
    for d in diff:
        if reapply and d.op != "add":
            ops.append({"op": "test", "path": d.path, "value": d.old})
        elif not reapply and d.op != "remove":
            ops.append({"op": "test", "path": d.path, "value": d.new})
    return ops


def forward_patch(diff: list[FieldChange]) -> list[dict[str, Any]]:
    """The change itself as a JSON Patch (what ``reapply`` sends)."""
    ops: list[dict[str, Any]] = []
    for d in diff:
        if d.op == "remove":
            ops.append({"op": "remove", "path": d.path})
        else:
            ops.append({"op": "add" if d.op == "add" else "replace", "path": d.path, "value": d.new})
    return ops


def revert_patch(change: Change, *, reapply: bool = False, live: Obj | None = None) -> list[dict[str, Any]]:
    """The JSON Patch that undoes ``change`` (or applies it again), guarded by ``test`` operations.

    With the ``live`` object, a map the change added that has since gained keys from someone else (a
    cordon's ``spec`` and the taint the node controller put next to ``unschedulable``) is reverted key
    by key, so the revert removes what the change set and leaves the later keys alone.
    """
    diff = _key_by_key(change.diff, live, reapply=reapply) if live is not None else change.diff
    tests = _tests(diff, reapply=reapply)
    if live is not None:
        tests = _as_held(tests, live, change.kind)
    return tests + (forward_patch(diff) if reapply else inverse_patch(diff))


def _as_held(tests: list[dict[str, Any]], live: Obj, kind: str) -> list[dict[str, Any]]:
    """Each ``test`` with the value exactly as the server holds it, where that normalizes to the value
    the journal recorded: the journal compares normalized objects (a taint without the ``timeAdded``
    the server stamps), the server's JSON Patch ``test`` compares bytes."""
    seen = normalize(live, kind)
    out = []
    for op in tests:
        held = value_at(live, op["path"])
        if held is not MISSING and value_at(seen, op["path"]) == op["value"] and not _hashed(op["value"]):
            op = {**op, "value": held}
        out.append(op)
    return out


def _hashed(value: Any) -> bool:
    """The journal kept only a hash of this value (it looked secret)."""
    return HASH_PREFIX in str(value)


def _key_by_key(diff: list[FieldChange], live: Obj, *, reapply: bool) -> list[FieldChange]:
    """The diff with each added map that the live object now shares with other keys split into its
    keys (a JSON Patch ``add`` or ``remove`` of the whole map would take those keys with it)."""
    out: list[FieldChange] = []
    for d in diff:
        held = value_at(live, d.path)
        shared = isinstance(held, dict) and held != d.new
        # reapplied over a map that exists now; or reverted where others added keys next to its own
        kept = reapply or (isinstance(d.new, dict) and all(k in held for k in d.new))
        split = shared and kept
        if d.op == "add" and isinstance(d.new, dict) and d.new and split:
            out += _key_by_key(field_diff({}, d.new, d.path), live, reapply=reapply)
        else:
            out.append(d)
    return out


def why_not_revertible(change: Change) -> str | None:
    """Why this change cannot be reverted by patching it back, or None when it can."""
    if change.kind == "Secret":
        return (
            "a Secret's old value is never stored, so it cannot be restored from memory: a human must "
            "restore it from its source of truth"
        )
    if change.event != "modified" or not change.diff:
        return f"the object was {change.event}, not edited: re-creating or deleting it is for a human"
    if any(d.path == "" for d in change.diff):
        return "the change replaced the whole object"
    if any(_hashed(d.old) for d in change.diff):
        return (
            "the value it replaced looked secret, so only its hash was recorded and it cannot be written "
            "back: a human must restore it from its source of truth"
        )
    return None


def _touches(diff: list[FieldChange], prefix: str) -> bool:
    return any(d.path == prefix or d.path.startswith(prefix + "/") for d in diff)


def _effect_figures(kind: str, live: Obj, after: Obj, diff: list[FieldChange]) -> dict[str, Any]:
    """Blast radius and replica figures the guard judges (from the objects, not the model)."""
    out: dict[str, Any] = {"pods_disrupted": 0}
    spec_live, spec_after = live.get("spec") or {}, after.get("spec") or {}
    if kind in _TEMPLATE_KINDS:
        out["pods_total"] = int(spec_live.get("replicas", 1) or 0)
        if _touches(diff, "/spec/template"):
            out["pods_disrupted"] = rolling_disruption(live)
        if "replicas" in spec_live or "replicas" in spec_after:
            out["replicas_before"] = int(spec_live.get("replicas", 1) or 0)
            out["replicas_after"] = int(spec_after.get("replicas", 1) or 0)
    return out


@tool(risk="write", tags=("kubernetes", "action"))
@expected_errors
def k8s_revert_change(
    deps: ToolDeps,
    kind: str,
    name: str,
    change: Annotated[str, Field(description="the change id what_changed or a suspect_change finding gives")],
    namespace: str | None = None,
    reapply: Annotated[bool, Field(description="apply the change again (the undo of a revert)")] = False,
    context: Context = None,
    *,
    dry_run: bool = False,
) -> ToolResult:
    """Revert one recorded change of an object (the exact inverse of its field diff), if nothing changed it since.
    Example: k8s_revert_change(kind="Service", name="api", namespace="ns", change="j42")"""
    res = resource_for(kind)
    kube = Kube(deps, context)
    ns = namespace if res.namespaced else None
    recorded = find_change(deps, res.kind, name, ns, change, context)
    refusal = why_not_revertible(recorded)
    if refusal is not None:
        raise ToolError(f"cannot revert {change_ref(recorded)} of {recorded.ref}: {refusal}")
    live = kube.get(res.kind, name, ns)
    patch = revert_patch(recorded, reapply=reapply, live=live)
    verb = ("reapply" if reapply else "revert") + f" change {change} of {res.kind} {name}"
    try:
        after: Obj = kube.request(
            "PATCH",
            object_path(res, ns, name),
            query={"dryRun": "All"},
            body=patch,
            content_type=JSON_PATCH,
            what=f"{res.kind} {ns + '/' if ns else ''}{name}",
        )
    except ToolError as exc:
        if "test" in str(exc).lower():
            raise ToolError(
                f"{res.kind} {name} changed again after {change}: its fields no longer hold the values that "
                f"change set, so reverting it would overwrite a later edit. Look at what_changed first. ({exc})"
            ) from None
        raise
    diff = yaml_diff(normalize(live, res.kind), normalize(after, res.kind), f"{res.kind.lower()}/{name}")
    effect = ActionEffect(
        target=target_of(live, res.kind, context),
        changed=bool(diff),
        diff=diff,
        undo=Undo(
            tool="k8s_revert_change",
            args={
                "kind": res.kind,
                "name": name,
                "change": change,
                **({"namespace": ns} if ns else {}),
                "reapply": not reapply,
                **({"context": context} if context else {}),
            },
            description=("revert " if reapply else "apply again ") + f"change {change}",
        ),
        expected_effect=f"{res.kind} {name} is back to how it was before {change}"
        if not reapply
        else f"{res.kind} {name} carries change {change} again",
        **_effect_figures(res.kind, live, after, recorded.diff),
    )
    if effect.changed and not dry_run:
        kube.request(
            "PATCH",
            object_path(res, ns, name),
            body=patch,
            content_type=JSON_PATCH,
            what=f"{res.kind} {ns + '/' if ns else ''}{name}",
        )
    return action_result(verb=verb, effect=effect, dry_run=dry_run, data={"patch": patch})
