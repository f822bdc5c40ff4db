"""Who owns a field of a live object, from its ``metadata.managedFields`` (FieldsV1).

A field set is a tree: ``f:<key>`` descends a map, ``k:{...}`` the item of a keyed list whose
values match every key of the JSON (``{"containerPort":8000,"protocol":"TCP"}`` on a real server,
one key in the sandbox), and an empty node owns everything under it (an atomic list or map). A path
is given as JSON Pointer tokens into the object, so list indexes are resolved against the object
itself rather than assumed.
"""

from __future__ import annotations

import json
from typing import Any

Obj = dict[str, Any]


def _item_node(node: Obj, item: Any) -> Any:
    if not isinstance(item, dict):
        return node.get(f"v:{json.dumps(item, separators=(',', ':'))}")
    for key, child in node.items():
        if not key.startswith("k:"):
            continue
        try:
            wanted = json.loads(key[2:])
        except json.JSONDecodeError:
            continue
        if isinstance(wanted, dict) and all(item.get(k) == v for k, v in wanted.items()):
            return child
    return None


def owns(fields: Any, doc: Any, tokens: list[str]) -> bool:
    """Whether the FieldsV1 tree ``fields`` owns the field at ``tokens`` of ``doc`` (or part of it)."""
    node, cur = fields, doc
    for token in tokens:
        if not isinstance(node, dict):
            return False
        if not any(k != "." for k in node):
            return True  # an empty node (or only the item marker): owned as a whole
        if isinstance(cur, list):
            if not token.isdigit() or int(token) >= len(cur):
                return False
            cur = cur[int(token)]
            node = _item_node(node, cur)
        else:
            node = node.get(f"f:{token}")
            cur = cur.get(token) if isinstance(cur, dict) else None
        if node is None:
            return False
    return True


def latest_owner(entries: list[Obj], doc: Any, tokens: list[str]) -> str | None:
    """The manager that wrote the field last (newest ``time`` among the entries that own it)."""
    owning = [e for e in entries if owns(e.get("fieldsV1") or {}, doc, tokens)]
    if not owning:
        return None
    newest = max(owning, key=lambda e: str(e.get("time") or ""))
    return str(newest.get("manager") or "") or None
