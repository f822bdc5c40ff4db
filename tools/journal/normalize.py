"""Normalized versions of Kubernetes objects: what a human changed, nothing the server or a
controller owns, and no secret value.

Dropped: ``status``; ``metadata`` fields the server owns (``resourceVersion``, ``generation``,
``uid``, ``managedFields``, ``creationTimestamp``, ``selfLink``); controller annotations
(``deployment.kubernetes.io/*`` and similar) and ``kubectl.kubernetes.io/last-applied-configuration``;
empty values a server defaults (``{}``, ``[]``, ``null``). Keys are sorted. Nodes keep only their
labels, taints and ``unschedulable``, and not the taints the node controller keeps in step with a
condition or with ``unschedulable`` (``node.kubernetes.io/*``): a cordon is one change, the cordon. A Secret keeps its key names with a content hash per key;
values that look secret elsewhere (env vars named ``*_PASSWORD``, ``token: ...``) are replaced by
a hash as well, so a change is still seen but the value is never stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from tools.redact import is_secret_name, redact_text

Obj = dict[str, Any]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_SERVER_META = ("resourceVersion", "generation", "uid", "managedFields", "creationTimestamp", "selfLink")
_CONTROLLER_ANNOTATION_PREFIXES = (
    "deployment.kubernetes.io/",
    "autoscaling.alpha.kubernetes.io/",
    "control-plane.alpha.kubernetes.io/",
    "endpoints.kubernetes.io/",
    "pv.kubernetes.io/",
    "node.alpha.kubernetes.io/",
    "volumes.kubernetes.io/",
)
_REFERENCE_KEYS = frozenset({"secretName"})  # names of Secrets, not their values
HASH_PREFIX = "sha256:"
CONTROLLER_TAINT_PREFIXES = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/")
"""Taint keys Kubernetes reserves for its controllers (not-ready, unreachable, unschedulable, ...)."""


def content_hash(data: bytes) -> str:
    """``sha256:<first 16 hex digits>``: enough to see a change, useless to recover the value."""
    return HASH_PREFIX + hashlib.sha256(data).hexdigest()[:16]


def _is_controller_annotation(key: str) -> bool:
    return key == LAST_APPLIED or key.startswith(_CONTROLLER_ANNOTATION_PREFIXES)


def prune_empty(value: Any) -> Any:
    """Sorted dicts without ``{}``, ``[]`` and ``None`` values (recursively); list order is kept."""
    if isinstance(value, dict):
        out = {}
        for key in sorted(value, key=str):
            v = prune_empty(value[key])
            if v is None or v == {} or v == []:
                continue
            out[key] = v
        return out
    if isinstance(value, list):
        return [prune_empty(v) for v in value]
    return value


def canonical(value: Any) -> Any:
    """:func:`prune_empty`, and lists of named items sorted by their merge key (a reorder is no change)."""
    from tools.journal.diff import merge_key

    pruned = prune_empty(value)

    def sort_named(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: sort_named(x) for k, x in v.items()}
        if isinstance(v, list):
            items = [sort_named(x) for x in v]
            key = merge_key(items, items)
            return sorted(items, key=lambda i: repr(i[key])) if key else items
        return v

    return sort_named(pruned)


def _hide_secret_values(value: Any) -> Any:
    """Values that look secret replaced by their hash (env ``{name, value}`` pairs, secret-named keys, text)."""
    if isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, str) and isinstance(value.get("value"), str) and is_secret_name(name):
            return {k: (_masked(v) if k == "value" else _hide_secret_values(v)) for k, v in value.items()}
        return {
            k: (
                _masked(v)
                if isinstance(v, str) and v and is_secret_name(str(k)) and k not in _REFERENCE_KEYS
                else _hide_secret_values(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hide_secret_values(v) for v in value]
    if isinstance(value, str):
        shown = redact_text(value)
        return value if shown == value else f"{shown} ({content_hash(value.encode())})"
    return value


def _masked(value: str) -> str:
    return value if value.startswith(HASH_PREFIX) else content_hash(value.encode())


def secret_data(obj: Obj) -> dict[str, str]:
    """A Secret's keys with a hash of each decoded value (``data`` is base64, ``stringData`` text)."""
    out: dict[str, str] = {}
    for key, raw in (obj.get("data") or {}).items():
        try:
            decoded = base64.b64decode(str(raw), validate=True)
        except (binascii.Error, ValueError):
            decoded = str(raw).encode()
        out[str(key)] = content_hash(decoded)
    for key, raw in (obj.get("stringData") or {}).items():
        out[str(key)] = content_hash(str(raw).encode())
    return out


def normalize(obj: Obj, kind: str | None = None) -> Obj:
    """The normalized version of ``obj`` (a new dict; the input is not modified)."""
    kind = kind or str(obj.get("kind") or "")
    meta = dict(obj.get("metadata") or {})
    for key in _SERVER_META:
        meta.pop(key, None)
    meta.pop("deletionTimestamp", None)
    meta.pop("deletionGracePeriodSeconds", None)
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if not _is_controller_annotation(k)
    }
    meta["annotations"] = annotations
    if kind == "Node":
        spec = obj.get("spec") or {}
        taints = [
            {k: v for k, v in t.items() if k != "timeAdded"}
            for t in spec.get("taints") or []
            if not str(t.get("key") or "").startswith(CONTROLLER_TAINT_PREFIXES)
        ]
        node = {
            "kind": "Node",
            "metadata": {"name": meta.get("name"), "labels": meta.get("labels")},
            "spec": {"unschedulable": spec.get("unschedulable") or None, "taints": taints},
        }
        return prune_empty(node)  # type: ignore[no-any-return]
    out = {k: v for k, v in obj.items() if k not in ("status", "metadata", "data", "stringData")}
    out["metadata"] = meta
    if kind == "Secret":
        out["data"] = secret_data(obj)
    elif "data" in obj:
        out["data"] = obj["data"]
    if kind:
        out["kind"] = kind
    return prune_empty(_hide_secret_values(out) if kind != "Secret" else _secret_rest(out))  # type: ignore[no-any-return]


def _secret_rest(out: Obj) -> Obj:
    """A Secret: its data is already hashes; everything else is redacted like any object."""
    data = out.pop("data", {})
    rest: Obj = _hide_secret_values(out)
    rest["data"] = data
    return rest
