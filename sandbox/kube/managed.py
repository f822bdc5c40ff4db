"""``metadata.managedFields``: who wrote an object, when, and which fields, as a real API server records it.

On every create, update and patch the API server keeps one entry per (manager, operation,
subresource) — ``{manager, operation: Update|Apply, apiVersion, time, fieldsType: FieldsV1,
fieldsV1}`` — and moves that entry's ``time`` forward when the manager writes again. The manager is
the request's ``fieldManager`` query parameter, else the User-Agent up to its first ``/``
(``kubectl-patch``, ``kubectl-rollout``, ``kubectl-client-side-apply``; ``OpenAPI-Generator`` for the
official Python client). A write that changes nothing leaves the entries as they were, so "last
written" stays honest. Tools read these times to tell when a ConfigMap, Secret or Service changed.

Clients cannot write ``managedFields`` themselves here (a real server lets them reset it); what they
send is replaced by the server's own record. Only writes through the API are recorded: the
simulation's controllers write to the store directly.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sandbox.kube.patching import list_key

Obj = dict[str, Any]

UNKNOWN_MANAGER = "unknown"
APPLY_MANAGER = "kubectl-client-side-apply"
_MAX_MANAGER = 128
# Metadata the server owns: never part of anyone's field set.
_SERVER_META = frozenset(
    ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "name", "namespace")
)
_VOLATILE_META = ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp")


def manager_name(field_manager: str | None, user_agent: str | None) -> str:
    """The manager a write is recorded under: ``fieldManager`` if given, else the User-Agent's prefix."""
    if field_manager:
        return field_manager[:_MAX_MANAGER]
    prefix = (user_agent or "").split("/", 1)[0].strip()
    return prefix[:_MAX_MANAGER] or UNKNOWN_MANAGER


def record_write(
    new: Obj,
    old: Obj | None,
    manager: str,
    when: str,
    *,
    subresource: str = "",
    operation: str = "Update",
) -> Obj:
    """Set ``new``'s managedFields after ``manager`` wrote it (``old`` None for a create); returns ``new``.

    ``old``'s entries are kept (whatever the client sent is ignored); the writer's entry gets the
    fields it changed and ``when``. A write that changed nothing keeps ``old``'s entries untouched.
    """
    meta = new.setdefault("metadata", {})
    entries: list[Obj] = copy.deepcopy(((old or {}).get("metadata") or {}).get("managedFields") or [])
    if old is not None and not changed(old, new):
        _set_entries(meta, entries)
        return new
    fields = field_set(new) if old is None else changed_fields(old, new)
    if subresource == "status":
        fields = {k: v for k, v in fields.items() if k == "f:status"}
    elif subresource != "scale":
        fields.pop("f:status", None)
    key = (manager, operation, subresource)
    entry = next((e for e in entries if _key(e) == key), None)
    if entry is None:
        entry = {"manager": manager, "operation": operation, "apiVersion": new.get("apiVersion", "v1")}
        if subresource:
            entry["subresource"] = subresource
        entries.append(entry)
    entry.update(time=when, fieldsType="FieldsV1")
    entry["fieldsV1"] = _merge(entry.get("fieldsV1") or {}, fields)
    entry["apiVersion"] = new.get("apiVersion", entry["apiVersion"])
    _set_entries(meta, entries)
    return new


def seeded_entry(obj: Obj, when: str, manager: str = APPLY_MANAGER) -> list[Obj]:
    """The managedFields of an object ``manager`` created (or last applied) at ``when``."""
    fields = field_set(obj)
    fields.pop("f:status", None)
    return [
        {
            "manager": manager,
            "operation": "Update",
            "apiVersion": obj.get("apiVersion", "v1"),
            "time": when,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        }
    ]


def changed(old: Obj, new: Obj) -> bool:
    """Whether a write changes anything beyond the bookkeeping the server itself keeps."""
    return _comparable(old) != _comparable(new)


def field_set(obj: Any) -> Obj:
    """Every field of ``obj`` as a FieldsV1 set (lists and scalars are leaves)."""
    if not isinstance(obj, dict):
        return {}
    out: Obj = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata" and isinstance(value, dict):
            sub = field_set({k: v for k, v in value.items() if k not in _SERVER_META})
            if sub:
                out["f:metadata"] = sub
            continue
        out[f"f:{key}"] = field_set(value)
    return out


def changed_fields(old: Any, new: Any) -> Obj:
    """The FieldsV1 set of what ``new`` sets differently from ``old`` (removed fields are not listed)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return {}
    out: Obj = {}
    for key, value in new.items():
        if key in ("apiVersion", "kind") or old.get(key) == value:
            continue
        if key == "metadata" and isinstance(value, dict):
            before = {k: v for k, v in (old.get(key) or {}).items() if k not in _SERVER_META}
            sub = changed_fields(before, {k: v for k, v in value.items() if k not in _SERVER_META})
            if sub:
                out["f:metadata"] = sub
            continue
        if isinstance(value, list) and isinstance(old.get(key), list):
            keyed = _keyed_list_fields(key, old[key], value)
            out[f"f:{key}"] = keyed if keyed is not None else {}
            continue
        out[f"f:{key}"] = changed_fields(old.get(key), value) if key in old else field_set(value)
    return out


def _keyed_list_fields(field: str, old: list[Any], new: list[Any]) -> Obj | None:
    """The items of a keyed list (containers by name, ...) that were added or changed, as
    ``k:{"<key>":...}`` entries as a real server records them; None for an atomic list."""
    key = list_key(field, new + old)
    if key is None or not all(isinstance(i, dict) and key in i for i in new + old):
        return None
    before = {json.dumps(i[key], sort_keys=True): i for i in old}
    out: Obj = {}
    for item in new:
        ref = "k:" + json.dumps({key: item[key]}, separators=(",", ":"), sort_keys=True)
        prev = before.get(json.dumps(item[key], sort_keys=True))
        if prev is None:
            out[ref] = {".": {}, **field_set(item)}
        elif prev != item:
            out[ref] = changed_fields(prev, item)
    return out


def _comparable(obj: Obj) -> Obj:
    copied = {k: v for k, v in obj.items() if k != "metadata"}
    copied["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE_META}
    return copied


def _key(entry: Obj) -> tuple[str, str, str]:
    return (entry.get("manager", ""), entry.get("operation", ""), entry.get("subresource", ""))


def _merge(a: Obj, b: Obj) -> Obj:
    out = copy.deepcopy(a)
    for key, value in b.items():
        out[key] = _merge(out[key], value) if isinstance(out.get(key), dict) else copy.deepcopy(value)
    return out


def _set_entries(meta: Obj, entries: list[Obj]) -> None:
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
