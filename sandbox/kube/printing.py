"""Server-side printing: the ``Table`` (meta.k8s.io/v1) that ``kubectl get`` asks for.

Columns and cell values follow the upstream printers (``pkg/printers/internalversion``): priority 0
columns are shown by default, priority 1 only with ``-o wide``. Row builders live in ``columns.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox.kube import columns
from sandbox.kube.resources import Resource

Obj = dict[str, Any]


def human_duration(seconds: float) -> str:
    """Age the way kubectl prints it (``apimachinery/pkg/util/duration.HumanDuration``)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """``<unknown>`` for a missing timestamp, else the human duration since it."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration(((now or datetime.now(UTC)) - then).total_seconds())


def _column(name: str, type_: str = "string", priority: int = 0, fmt: str = "") -> Obj:
    return {"name": name, "type": type_, "format": fmt, "description": name, "priority": priority}


def table(res: Resource, objs: list[Obj], include: str, resource_version: str = "") -> Obj:
    """A Table of ``objs``; ``include`` is the ``includeObject`` policy (None, Metadata, Object)."""
    spec = columns.COLUMNS.get(res.plural, columns.DEFAULT)
    defs = [
        _column(name, type_, prio, "name" if name == "Name" else "") for name, type_, prio in spec.columns
    ]
    rows = []
    for obj in objs:
        row: Obj = {"cells": spec.row(obj, age)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {}),
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": defs,
        "rows": rows,
    }


def partial_metadata(obj: Obj) -> Obj:
    """``as=PartialObjectMetadata``: the object reduced to its metadata."""
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }
