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


_MISSING: Any = object()


def undeclared(fields: Any, live: Any, declared: Any, tokens: tuple[str, ...] = ()) -> list[list[str]]:
    """The fields of the FieldsV1 tree ``fields`` that ``live`` holds and ``declared`` does not, as
    JSON Pointer tokens into ``live`` (a list item the manifest lacks is named as a whole)."""
    if not isinstance(fields, dict) or not any(k != "." for k in fields):
        return [list(tokens)] if live is not _MISSING and declared is _MISSING else []
    out: list[list[str]] = []
    for key, child in fields.items():
        if key.startswith("f:") and isinstance(live, dict) and key[2:] in live:
            sub = declared.get(key[2:], _MISSING) if isinstance(declared, dict) else _MISSING
            out += undeclared(child, live[key[2:]], sub, (*tokens, key[2:]))
        elif key.startswith("k:") and isinstance(live, list):
            index = next((i for i, item in enumerate(live) if _item_node({key: 1}, item) is not None), None)
            if index is None:
                continue
            mine = (
                next((i for i in declared if _item_node({key: 1}, i) is not None), _MISSING)
                if isinstance(declared, list)
                else _MISSING
            )
            if mine is _MISSING:
                out.append([*tokens, str(index)])
            else:
                out += undeclared(child, live[index], mine, (*tokens, str(index)))
    return out
