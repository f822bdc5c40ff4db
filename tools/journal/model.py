"""The journal's records: one :class:`Change` per recorded version of an object, with its field diff."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Op = Literal["add", "remove", "replace"]
Source = Literal["journal", "managedFields", "last-applied", "replicaset"]
Event = Literal["added", "modified", "deleted"]
ABSENT: Any = None


class FieldChange(BaseModel):
    """One field that changed between two versions of an object.

    ``path`` is a JSON Pointer (RFC 6901) into the object: into the *new* version for ``add`` and
    ``replace``, into the *old* version for ``remove`` (so a JSON Patch built from the inverse applies
    to the new object; see :func:`tools.journal.diff.inverse_patch`). ``old`` is unset for ``add``,
    ``new`` for ``remove``. ``path == ""`` is the whole object (a creation or a deletion).
    """

    path: str
    op: Op
    old: Any = ABSENT
    new: Any = ABSENT

    def as_dict(self) -> dict[str, Any]:
        """The entry as JSON data, without the side that does not exist for its op."""
        out: dict[str, Any] = {"path": self.path, "op": self.op}
        if self.op != "add":
            out["old"] = self.old
        if self.op != "remove":
            out["new"] = self.new
        return out


class Change(BaseModel):
    """One change of one object: who, when, what (field diff) and the normalized snapshots.

    ``before``/``after`` are normalized (``tools.journal.normalize``): no status or server-owned
    metadata, and for a Secret only key names and content hashes. ``source`` says where the record
    comes from: the journal's watch, or a fallback reading what the cluster keeps.
    """

    kind: str
    namespace: str | None = None
    name: str
    time: datetime = Field(description="When the change was made (managedFields time, else when seen).")
    actor: str | None = Field(None, description="The managedFields manager that wrote it, when known.")
    operation: str | None = Field(None, description="managedFields operation: Update or Apply.")
    source: Source = "journal"
    event: Event = "modified"
    diff: list[FieldChange] = Field(default_factory=list)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    resource_version: str | None = None
    id: int | None = Field(None, description="Row id in the journal store (None for fallback records).")

    @property
    def ref(self) -> str:
        """``Kind/namespace/name`` (``Kind//name`` for cluster-scoped objects)."""
        return f"{self.kind}/{self.namespace or ''}/{self.name}"

    def as_dict(self) -> dict[str, Any]:
        """JSON data for code and ``--json`` (times in RFC 3339)."""
        out = self.model_dump(mode="json", exclude={"diff"})
        out["diff"] = [d.as_dict() for d in self.diff]
        return out
