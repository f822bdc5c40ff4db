"""Adopt: write what the cluster runs into the desired files, as a patch for a human to review.

The adopted manifest keeps the declared shape (the fields the manifest states, list items matched
by their merge key) with the live values, except the fields a controller owns (they stay as
declared). Only the object's own YAML document is re-rendered; the others in its file are kept
byte for byte. The result is a unified diff (``--- a/<file>`` / ``+++ b/<file>``, paths relative to
the desired-state root) written to ``<out_dir>/<kind>-<namespace>-<name>.patch``: ``git apply``
(or ``patch -p1``) applies it to a checkout. Nothing is committed or pushed.

Secrets are never adopted: that would write their values to a file.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import re
from pathlib import Path
from typing import Any

import yaml

from tools.desired.drift import ObjectDrift
from tools.desired.source import DesiredState
from tools.errors import ToolError
from tools.journal.diff import merge_key, split_pointer
from tools.redact import redact_obj

Obj = dict[str, Any]
_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.M)


def project(declared: Any, live: Any) -> Any:
    """``declared``'s shape filled with ``live``'s values (None where live lacks the field)."""
    if isinstance(declared, dict) and isinstance(live, dict):
        out = {}
        for key, value in declared.items():
            if key in live:
                out[key] = project(value, live[key])
        return out
    if isinstance(declared, list) and isinstance(live, list):
        key = merge_key(declared, live)
        if key is None:
            return copy.deepcopy(live)
        by_key = {repr(i[key]): i for i in live}
        return [project(i, by_key[repr(i[key])]) for i in declared if repr(i[key]) in by_key]
    return copy.deepcopy(live)


def adopted_object(found: ObjectDrift, live: Obj) -> Obj:
    """The manifest of ``found`` rewritten to what runs (controller-owned fields kept as declared)."""
    declared = found.declared.obj
    out: Obj = project(declared, live)
    out["apiVersion"], out["kind"] = declared.get("apiVersion"), declared.get("kind")
    out["metadata"] = project(declared.get("metadata") or {}, live.get("metadata") or {})
    for pointer in found.extra:  # fields added by hand: adopted where the path is made of map keys
        _set_map_path(out, split_pointer(pointer), live)
    for pointer in found.ignored:
        tokens = split_pointer(pointer)
        src: Any = declared
        dst: Any = out
        for token in tokens[:-1]:
            src = src.get(token) if isinstance(src, dict) else None
            dst = dst.get(token) if isinstance(dst, dict) else None
        if isinstance(src, dict) and isinstance(dst, dict) and tokens and tokens[-1] in src:
            dst[tokens[-1]] = copy.deepcopy(src[tokens[-1]])
    return out


def _set_map_path(out: Obj, tokens: list[str], live: Obj) -> None:
    src: Any = live
    for token in tokens:
        if not isinstance(src, dict) or token not in src:
            return  # through a list: the item's place in the manifest is not known, left to the reviewer
        src = src[token]
    dst: Any = out
    for token in tokens[:-1]:
        dst = dst.setdefault(token, {}) if isinstance(dst, dict) else None
    if isinstance(dst, dict) and tokens:
        dst[tokens[-1]] = copy.deepcopy(src)


def _replace_document(text: str, index: int, rendered: str) -> str:
    """``text`` with its ``index``-th non-empty YAML document replaced by ``rendered``."""
    bounds = [0] + [m.start() for m in _SEPARATOR.finditer(text)] + [len(text)]
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    seen = -1
    for i, chunk in enumerate(chunks):
        body = _SEPARATOR.sub("", chunk, count=1) if i and _SEPARATOR.match(chunk) else chunk
        if yaml.safe_load(body) is None:
            continue
        seen += 1
        if seen == index:
            head = chunk[: len(chunk) - len(body)]
            chunks[i] = head + ("\n" if head and not head.endswith("\n") else "") + rendered
            return "".join(chunks)
    raise ToolError(f"document {index} is no longer in the desired file; read the desired state again")


def adopt_patch(found: ObjectDrift, live: Obj, desired: DesiredState) -> str:
    """The unified diff that makes the desired file declare what runs (``git apply`` accepts it)."""
    rel = found.declared.file
    if found.declared.kind == "Secret":
        raise ToolError(
            f"{found.ref} is a Secret: adopting it would write its values to a file. Update the secret's "
            "source (a sealed secret, an external secret store) by hand, or sync it back instead"
        )
    if rel is None:
        raise ToolError(
            f"{found.ref} was rendered by kustomize from {desired.source} and has no single source file; "
            "edit its base or overlay by hand (the drift shows the fields), or sync it back instead"
        )
    adopted = adopted_object(found, live)
    if redact_obj(adopted) != adopted:
        raise ToolError(
            f"{found.ref} holds secret-looking values (tokens, passwords); they are never written to files. "
            "Adopt it by hand, or sync it back instead"
        )
    path = desired.root / rel
    original = path.read_text(encoding="utf-8")
    updated = _replace_document(original, found.declared.document, yaml.safe_dump(adopted, sort_keys=False))
    lines = difflib.unified_diff(
        original.splitlines(keepends=True), updated.splitlines(keepends=True), f"a/{rel}", f"b/{rel}"
    )
    return "".join(lines)


def write_patch(found: ObjectDrift, live: Obj, desired: DesiredState, out_dir: Path) -> Path:
    """Write the adopt patch of ``found`` under ``out_dir``; returns the file."""
    patch = adopt_patch(found, live, desired)
    if not patch:
        raise ToolError(
            f"{found.ref}: the desired file already declares what runs; there is nothing to adopt"
        )
    d = found.declared
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{d.kind.lower()}-{d.namespace or 'cluster'}-{d.name}.patch"
    target.write_text(patch, encoding="utf-8")
    return target
