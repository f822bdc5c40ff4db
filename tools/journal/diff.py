"""Field-level diffs between two normalized versions of one object, and the JSON Patch that undoes one.

Lists of named things (containers, env, ports, volumes, volumeMounts, taints ...) are matched by
their merge key before they are compared, so a reorder is not a change. The key is the first of
:data:`MERGE_KEYS` that every item of both lists has, with unique values; other lists (args,
command, tolerations) are compared whole. Pointers use the index in the new list (``add``,
``replace`` and changes inside a kept item) and the index in the old list for ``remove``.

No library did this: ``jsonpatch.make_patch`` compares lists by position (a reorder becomes a
chain of moves and replaces), ``deepdiff``'s ``ignore_order`` loses the new index a pointer needs.
"""

from __future__ import annotations

from typing import Any

from tools.journal.model import FieldChange

MERGE_KEYS = ("name", "containerPort", "port", "mountPath", "devicePath", "ip", "key", "type")


def escape(token: str) -> str:
    """One JSON Pointer reference token (RFC 6901: ``~`` -> ``~0``, ``/`` -> ``~1``)."""
    return token.replace("~", "~0").replace("/", "~1")


def split_pointer(path: str) -> list[str]:
    """The unescaped tokens of a JSON Pointer."""
    if not path:
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


MISSING: Any = object()
"""What :func:`value_at` answers for a pointer that names nothing."""


def value_at(doc: Any, path: str) -> Any:
    """The value a JSON Pointer names in ``doc``, or :data:`MISSING`."""
    for token in split_pointer(path):
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list) and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            return MISSING
    return doc


def merge_key(old: list[Any], new: list[Any]) -> str | None:
    """The key both lists' items are identified by, or None (compare the lists whole)."""
    items = [*old, *new]
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in MERGE_KEYS:
        if all(key in i for i in items):
            old_keys = [repr(i[key]) for i in old]
            new_keys = [repr(i[key]) for i in new]
            if len(set(old_keys)) == len(old_keys) and len(set(new_keys)) == len(new_keys):
                return key
    return None


def field_diff(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """Every field that differs from ``before`` to ``after`` (None = the object does not exist)."""
    if before is None and after is None:
        return []
    if before is None:
        return [FieldChange(path=path, op="add", new=after)]
    if after is None:
        return [FieldChange(path=path, op="remove", old=before)]
    out: list[FieldChange] = []
    _diff(before, after, path, out)
    return out


def _diff(old: Any, new: Any, path: str, out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}/{escape(str(key))}"
            if key not in new:
                out.append(FieldChange(path=sub, op="remove", old=old[key]))
            elif key not in old:
                out.append(FieldChange(path=sub, op="add", new=new[key]))
            else:
                _diff(old[key], new[key], sub, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        key = merge_key(old, new)
        if key is not None:
            _diff_keyed(old, new, key, path, out)
            return
    if old != new or type(old) is not type(new):
        out.append(FieldChange(path=path, op="replace", old=old, new=new))


def _diff_keyed(old: list[Any], new: list[Any], key: str, path: str, out: list[FieldChange]) -> None:
    old_at = {repr(item[key]): (i, item) for i, item in enumerate(old)}
    new_keys = {repr(item[key]) for item in new}
    for i, item in enumerate(old):
        if repr(item[key]) not in new_keys:
            out.append(FieldChange(path=f"{path}/{i}", op="remove", old=item))
    for j, item in enumerate(new):
        match = old_at.get(repr(item[key]))
        if match is None:
            out.append(FieldChange(path=f"{path}/{j}", op="add", new=item))
        else:
            _diff(match[1], item, f"{path}/{j}", out)


def _sort_key(op: dict[str, Any]) -> tuple[int, int, str, int, int]:
    tokens = split_pointer(op["path"])
    last = tokens[-1] if tokens else ""
    index = int(last) if last.isdigit() else 0
    parent = "/".join(tokens[:-1])
    if op["op"] == "replace":
        return (0, 0, "", 0, 0)
    rank = 0 if op["op"] == "remove" else 1
    return (1, -len(tokens), parent, rank, -index if rank == 0 else index)


def inverse_patch(diff: list[FieldChange]) -> list[dict[str, Any]]:
    """The JSON Patch (RFC 6902) that turns the diff's *after* object back into its *before* object.

    Replaces first (their pointers index the after object), then removals of what was added and
    re-additions of what was removed, deepest first, and in one list removals (highest index first)
    before additions (lowest index first), so every pointer is valid when its operation runs.
    A reorder of named items is not undone (it was no change).
    """
    ops: list[dict[str, Any]] = []
    for change in diff:
        if change.op == "add":
            ops.append({"op": "remove", "path": change.path})
        elif change.op == "remove":
            ops.append({"op": "add", "path": change.path, "value": change.old})
        else:
            ops.append({"op": "replace", "path": change.path, "value": change.old})
    return sorted(ops, key=_sort_key)
