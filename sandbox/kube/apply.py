"""Server-side apply (``PATCH`` with ``application/apply-patch+yaml``), as the API server does it.

The applied configuration is merged into the live object with the strategic-merge list keys
(containers by name, ports by port, ...). The applier's field set is recorded in
``metadata.managedFields`` as an ``Apply`` entry that *replaces* its previous one, so:

- a field the same manager applied before and now omits is removed from the object (unless another
  manager also owns it);
- a field another manager owns with a different value is a conflict: 409 ``Conflict`` listing each
  field and its owner, unless ``force=true``, which takes the field over (it leaves the other
  manager's set, and an entry left empty disappears);
- ``dryRun=All`` answers with the object as it would be stored and stores nothing.

Field sets use the FieldsV1 encoding: ``f:<field>`` for a map key, ``k:{"name":"app"}`` for the item
of a keyed list (with a ``.`` member marking the item itself). Lists without a merge key are atomic
(the whole list is one leaf), as in upstream's schema for them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sandbox.kube.errors import ApiError, bad_request
from sandbox.kube.patching import list_key, strategic_merge

Obj = dict[str, Any]
Path = tuple[str, ...]

APPLY = "application/apply-patch+yaml"
_SERVER_META = frozenset(
    ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "name", "namespace")
)

_SERVER_WRITTEN = _SERVER_META - {"name", "namespace"}


# --- field sets --------------------------------------------------------------------------------
def applied_paths(obj: Obj) -> set[Path]:
    """The fields ``obj`` (an applied configuration) sets: leaves and keyed list items."""
    out: set[Path] = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata" and isinstance(value, dict):
            meta = {k: v for k, v in value.items() if k not in _SERVER_META}
            _walk(meta, ("f:metadata",), out)
            continue
        _walk_value(key, value, (), out)
    return out


def _walk(obj: Obj, prefix: Path, out: set[Path]) -> None:
    for key, value in obj.items():
        _walk_value(key, value, prefix, out)


def _walk_value(key: str, value: Any, prefix: Path, out: set[Path]) -> None:
    here = (*prefix, f"f:{key}")
    if isinstance(value, dict) and value:
        _walk(value, here, out)
        return
    item_key = list_key(key, value) if isinstance(value, list) else None
    if item_key and all(isinstance(i, dict) and item_key in i for i in value):
        for item in value:
            item_path = (*here, item_ref(item_key, item[item_key]))
            out.add(item_path)
            _walk(item, item_path, out)
        return
    out.add(here)  # a scalar, an empty map or an atomic list


def item_ref(key: str, value: Any) -> str:
    return "k:" + json.dumps({key: value}, separators=(",", ":"), sort_keys=True)


def to_fields_v1(paths: set[Path]) -> Obj:
    """Encode a set of paths as FieldsV1 (items get a ``.`` member)."""
    out: Obj = {}
    for path in sorted(paths):
        node = out
        for part in path:
            node = node.setdefault(part, {})
        if path[-1].startswith("k:"):
            node["."] = {}
    return out


def from_fields_v1(fields: Any, prefix: Path = ()) -> set[Path]:
    """Decode FieldsV1 into its set of paths (leaves and marked items)."""
    out: set[Path] = set()
    if not isinstance(fields, dict):
        return out
    for part, sub in fields.items():
        if part == ".":
            out.add(prefix)
            continue
        here = (*prefix, part)
        if isinstance(sub, dict) and any(k != "." for k in sub):
            out |= from_fields_v1(sub, here)
            if "." in sub:
                out.add(here)
        else:
            out.add(here)
    return out


def owns(owned: set[Path], path: Path) -> bool:
    """Whether a field set owns ``path``: the path itself or an atomic ancestor of it."""
    return any(path[:i] in owned for i in range(1, len(path) + 1))


# --- reading and removing a path -----------------------------------------------------------------
_MISSING = object()


def value_at(obj: Any, path: Path) -> Any:
    """The value at ``path`` in ``obj``, or a sentinel when it is not there."""
    cur = obj
    for part in path:
        if part.startswith("f:") and isinstance(cur, dict):
            cur = cur.get(part[2:], _MISSING)
        elif part.startswith("k:") and isinstance(cur, list):
            ((key, wanted),) = json.loads(part[2:]).items()
            cur = next((i for i in cur if isinstance(i, dict) and i.get(key) == wanted), _MISSING)
        else:
            return _MISSING
        if cur is _MISSING:
            return _MISSING
    return cur


def remove_path(obj: Obj, path: Path) -> None:
    """Delete the field or list item at ``path`` (nothing when it is not there)."""
    parent = value_at(obj, path[:-1]) if len(path) > 1 else obj
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        ((key, wanted),) = json.loads(last[2:]).items()
        parent[:] = [i for i in parent if not (isinstance(i, dict) and i.get(key) == wanted)]


# --- apply ---------------------------------------------------------------------------------------
def server_side_apply(live: Obj, applied: Obj, manager: str, when: str, *, force: bool) -> Obj:
    """The object after ``manager`` applied ``applied`` to ``live`` (neither is modified).

    Raises 409 on conflicts with other managers unless ``force``.
    """
    if not isinstance(applied, dict):
        raise bad_request("an apply patch must be an object (the applied configuration, in YAML or JSON)")
    entries: list[Obj] = copy.deepcopy((live.get("metadata") or {}).get("managedFields") or [])
    mine = [e for e in entries if _is_applier(e, manager)]
    others = [e for e in entries if not _is_applier(e, manager)]
    new_set = applied_paths(applied)
    conflicts = _conflicts(live, applied, new_set, others)
    if conflicts and not force:
        raise _conflict_error(conflicts)
    result = strategic_merge(live, without_server_meta(applied))
    previous = set().union(*(from_fields_v1(e.get("fieldsV1")) for e in mine))
    still_owned = [from_fields_v1(e.get("fieldsV1")) for e in others]
    dropped = {
        path
        for path in previous - new_set
        if not any(owns(o, path) for o in still_owned) and not any(p[: len(path)] == path for p in new_set)
    }
    for path in sorted(dropped, key=len, reverse=True):
        if not any(path[:i] in dropped for i in range(1, len(path))):  # an ancestor goes as a whole
            remove_path(result, path)
    for entry in others:  # forced or agreeing fields now belong to the applier
        owned = from_fields_v1(entry.get("fieldsV1")) - {p for p in new_set if _taken(p, conflicts, force)}
        entry["fieldsV1"] = to_fields_v1(owned)
    kept = [e for e in others if e.get("fieldsV1")]
    apply_entry = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": applied.get("apiVersion") or live.get("apiVersion", "v1"),
        "time": when,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(new_set),
    }
    result.setdefault("metadata", {})["managedFields"] = [*kept, apply_entry]
    return result


def new_entry(applied: Obj, manager: str, when: str) -> list[Obj]:
    """The managedFields of an object created by an apply."""
    return [
        {
            "manager": manager,
            "operation": "Apply",
            "apiVersion": applied.get("apiVersion", "v1"),
            "time": when,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(applied_paths(applied)),
        }
    ]


def _is_applier(entry: Obj, manager: str) -> bool:
    return (
        entry.get("manager") == manager and entry.get("operation") == "Apply" and not entry.get("subresource")
    )


def _taken(path: Path, conflicts: list[tuple[str, Path]], force: bool) -> bool:
    return force or not any(p == path for _, p in conflicts)


def without_server_meta(applied: Obj) -> Obj:
    """The applied configuration without status and the metadata only the server writes."""
    body = {k: v for k, v in applied.items() if k not in ("status",)}
    meta = {k: v for k, v in (applied.get("metadata") or {}).items() if k not in _SERVER_WRITTEN}
    body["metadata"] = meta
    return body


def _conflicts(live: Obj, applied: Obj, new_set: set[Path], others: list[Obj]) -> list[tuple[str, Path]]:
    """(other manager, field) pairs where the applied value differs from the live one it owns."""
    out: list[tuple[str, Path]] = []
    for entry in others:
        owned = from_fields_v1(entry.get("fieldsV1"))
        for path in sorted(new_set):
            if path[-1].startswith("k:") or not owns(owned, path):
                continue
            if value_at(live, path) != value_at(applied, path):
                out.append((_owner(entry), path))
    return out


def _owner(entry: Obj) -> str:
    sub = entry.get("subresource")
    return f'"{entry.get("manager")}" using {entry.get("apiVersion", "v1")}' + (f" ({sub})" if sub else "")


def dotted(path: Path) -> str:
    """``.spec.template.spec.containers[name="app"].image``: a path as upstream's conflict messages show it."""
    out = ""
    for part in path:
        if part.startswith("f:"):
            out += "." + part[2:]
        else:
            ((key, value),) = json.loads(part[2:]).items()
            out += f"[{key}={json.dumps(value)}]"
    return out


def _conflict_error(conflicts: list[tuple[str, Path]]) -> ApiError:
    lines = "\n".join(f"- conflict with {owner}: {dotted(path)}" for owner, path in conflicts)
    n = len(conflicts)
    return ApiError(
        409,
        "Conflict",
        f"Apply failed with {n} conflict{'s' if n != 1 else ''}:\n{lines}\n"
        "Re-apply with force=true (kubectl apply --server-side --force-conflicts) to take these fields over, "
        "or leave them out of the applied configuration so their owner keeps them.",
        {
            "causes": [
                {"reason": "FieldManagerConflict", "message": f"conflict with {o}", "field": dotted(p)}
                for o, p in conflicts
            ]
        },
    )
