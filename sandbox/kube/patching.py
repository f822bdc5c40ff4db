"""The three patch formats ``PATCH`` accepts: strategic merge, JSON merge (RFC 7386), JSON (RFC 6902).

Strategic merge follows the rules that matter for the objects the sandbox serves: lists of named
things (containers, env, ports, volumes, ...) merge by their key instead of being replaced, ``null``
deletes a key, ``$patch: delete`` removes a list item or a map, ``$patch: replace`` replaces a map,
and the ordering/retain directives kubectl sends (``$setElementOrder/...``, ``$retainKeys``) are
accepted and ignored.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.kube.errors import ApiError, bad_request, unsupported_media

Obj = dict[str, Any]

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

# list field -> the key its items merge by (core/v1 and apps/v1 patchMergeKey tags)
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "taints": "key",
    "addresses": "type",
    "readinessGates": "conditionType",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
}
# lists of scalars that strategic merge unions instead of replacing
MERGED_SCALAR_LISTS = {"finalizers"}


def apply_patch(content_type: str, original: Obj, patch: Any) -> Obj:
    """Apply a patch of the given media type to a copy of ``original``."""
    media = content_type.split(";")[0].strip().lower()
    if media == STRATEGIC:
        if not isinstance(patch, dict):
            raise bad_request("a strategic merge patch must be a JSON object")
        return strategic_merge(original, patch)
    if media == MERGE:
        merged = merge_patch(original, patch)
        if not isinstance(merged, dict):
            raise bad_request("a merge patch must leave an object")
        return merged
    if media == JSON_PATCH:
        if not isinstance(patch, list):
            raise bad_request("a JSON patch must be a JSON array of operations")
        return json_patch(original, patch)
    raise unsupported_media(content_type)


# --- RFC 7386 ----------------------------------------------------------------------------------
def merge_patch(target: Any, patch: Any) -> Any:
    """JSON merge patch: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- strategic merge ---------------------------------------------------------------------------
def strategic_merge(original: Obj, patch: Obj) -> Obj:
    """Strategic merge patch of ``original`` (not modified) with ``patch``."""
    return _merge_map(copy.deepcopy(original), patch)


def _merge_map(target: Obj, patch: Obj) -> Obj:
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if patch.get("$patch") == "delete":
        return {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            target[field] = [v for v in target.get(field) or [] if v not in (value or [])]
            continue
        if key.startswith("$"):  # $setElementOrder/..., $retainKeys, $patch: ordering hints
            continue
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            target[key] = _merge_map(current if isinstance(current, dict) else {}, value)
        elif isinstance(value, list):
            target[key] = _merge_list(key, target.get(key), value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def list_key(field: str, items: list[Any]) -> str | None:
    """The key the items of list ``field`` merge by (None: the list is replaced as a whole)."""
    if field == "ports":  # container ports merge by containerPort, service ports by port
        dicts = [i for i in items if isinstance(i, dict)]
        if any("containerPort" in i for i in dicts):
            return "containerPort"
        return "port" if dicts else None
    return MERGE_KEYS.get(field)


def _merge_list(field: str, existing: Any, patch: list[Any]) -> list[Any]:
    current: list[Any] = existing if isinstance(existing, list) else []
    if field in MERGED_SCALAR_LISTS:
        return current + [v for v in patch if v not in current]
    key = list_key(field, patch + current)
    if key is None:
        return [_strip_directives(v) for v in patch if not _is_delete(v)]
    result: list[Any] = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict):
            raise bad_request(f"strategic merge patch: items of {field!r} must be objects keyed by {key!r}")
        if item.get("$patch") == "replace":
            return [_strip_directives(i) for i in patch if isinstance(i, dict)]
        index = next((i for i, cur in enumerate(result) if cur.get(key) == item.get(key)), None)
        if _is_delete(item):
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append(_strip_directives(item))
        else:
            result[index] = _merge_map(result[index], item)
    return result


def _is_delete(item: Any) -> bool:
    return isinstance(item, dict) and item.get("$patch") == "delete"


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


# --- RFC 6902 ----------------------------------------------------------------------------------
def json_patch(original: Obj, ops: list[Any]) -> Obj:
    """JSON patch: add, remove, replace, move, copy and test, applied in order to a copy."""
    doc: Any = copy.deepcopy(original)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid JSON patch operation {op!r}: needs 'op' and 'path'")
        doc = _apply_op(doc, op)
    if not isinstance(doc, dict):
        raise bad_request("the JSON patch replaced the whole object with a non-object")
    return doc


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}: must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _apply_op(doc: Any, op: Obj) -> Any:
    name, path = op["op"], _pointer(op["path"])
    if name == "test":
        if _get(doc, path, op) != op.get("value"):
            raise ApiError(422, "Invalid", f"JSON patch test failed at {op['path']!r}")
        return doc
    if name == "remove":
        return _remove(doc, path, op)
    if name in ("add", "replace"):
        if "value" not in op:
            raise bad_request(f"JSON patch {name} at {op['path']!r} has no 'value'")
        if name == "replace" and path and _exists(doc, path, op):
            doc = _remove(doc, path, op)
        elif name == "replace" and path and not isinstance(_get(doc, path[:-1], op), dict):
            raise _missing(op)  # replacing a missing map key adds it (lenient, like kubectl expects)
        return _add(doc, path, copy.deepcopy(op["value"]), op)
    if name in ("move", "copy"):
        source = _pointer(op.get("from", ""))
        value = copy.deepcopy(_get(doc, source, op))
        if name == "move":
            doc = _remove(doc, source, op)
        return _add(doc, path, value, op)
    raise bad_request(
        f"unknown JSON patch operation {name!r}: expected add, remove, replace, move, copy or test"
    )


def _missing(op: Obj) -> ApiError:
    return ApiError(
        422, "Invalid", f"JSON patch {op['op']} failed: path {op.get('path')!r} does not exist in the object"
    )


def _get(doc: Any, path: list[str], op: Obj) -> Any:
    cur = doc
    for part in path:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise _missing(op)
    return cur


def _exists(doc: Any, path: list[str], op: Obj) -> bool:
    try:
        _get(doc, path, op)
    except ApiError:
        return False
    return True


def _add(doc: Any, path: list[str], value: Any, op: Obj) -> Any:
    if not path:
        return value
    parent = _get(doc, path[:-1], op)
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise _missing(op)
    else:
        raise _missing(op)
    return doc


def _remove(doc: Any, path: list[str], op: Obj) -> Any:
    if not path:
        return None
    parent = _get(doc, path[:-1], op)
    last = path[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        parent.pop(int(last))
    else:
        raise _missing(op)
    return doc
