"""Turning observed objects into journal changes: normalize, compare with the last stored version,
diff, and name the actor and the time from ``managedFields``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.journal.diff import field_diff
from tools.journal.model import Change
from tools.journal.normalize import normalize
from tools.journal.store import JournalStore
from tools.kubernetes.shape import parse_time

Obj = dict[str, Any]
OnChange = Callable[[Change], None]


SAME_WRITE = timedelta(seconds=2)


def managers_of(obj: Obj) -> list[list[str]]:
    """``[manager, operation, subresource, time, fields hash]`` of every managedFields entry."""
    out = []
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        out.append(
            [
                str(entry.get("manager") or ""),
                str(entry.get("operation") or ""),
                str(entry.get("subresource") or ""),
                str(entry.get("time") or ""),
                hashlib.sha256(json.dumps(entry.get("fieldsV1"), sort_keys=True).encode()).hexdigest()[:12],
            ]
        )
    return out


def actor_of(
    now: list[list[str]], before: list[list[str]], seen_at: datetime | None = None
) -> tuple[str | None, str | None, datetime | None]:
    """The writer of a change: the newest managedFields entry that is new since ``before``.

    An entry is new when its manager wrote again (its time or its fields moved) or wrote for the
    first time. Spec writers win over ``status`` writers. When no entry moved (times have one-second
    precision), the newest entry counts only if it was written within :data:`SAME_WRITE` of
    ``seen_at``; else None, so a stale writer is never blamed for a write the server did not record.
    """
    old = {tuple(e) for e in before}
    fresh = [e for e in now if tuple(e) not in old and parse_time(e[3]) is not None]
    if not fresh and seen_at is not None:
        fresh = [e for e in now if (t := parse_time(e[3])) is not None and abs(seen_at - t) <= SAME_WRITE]
    if not fresh:
        return None, None, None
    fresh.sort(key=lambda e: (e[2] != "status", parse_time(e[3]) or datetime.min.replace(tzinfo=UTC)))
    manager, operation, _, when = fresh[-1][:4]
    return manager or None, operation or None, parse_time(when)


def _ident(obj: Obj) -> tuple[str | None, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or None), str(meta.get("name") or "")


class Recorder:
    """Records what changed about objects into a :class:`JournalStore`."""

    def __init__(
        self,
        store: JournalStore,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_change: OnChange | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.on_change = on_change

    def observe(self, kind: str, obj: Obj, *, first_sighting: bool = False) -> Change | None:
        """Record ``obj``'s current version if it differs from the stored one; returns the change.

        ``first_sighting``: the journal lists this kind for the first time, so an object it has
        never seen existed before it started: remember it, record no creation.
        """
        namespace, name = _ident(obj)
        snapshot = normalize(obj, kind)
        managers = managers_of(obj)
        head = self.store.head(kind, namespace, name)
        if head is None and first_sighting:
            self.store.set_head(kind, namespace, name, snapshot, managers)
            return None
        before = None if head is None or head.deleted else head.snapshot
        if before == snapshot:
            if head is not None and head.managers != managers:
                self.store.set_head(kind, namespace, name, snapshot, managers)
            return None
        seen = self.clock()
        actor, operation, when = actor_of(managers, head.managers if head else [], seen)
        change = Change(
            kind=kind,
            namespace=namespace,
            name=name,
            time=when or seen,
            actor=actor,
            operation=operation,
            event="added" if before is None else "modified",
            diff=field_diff(before, snapshot),
            before=before,
            after=snapshot,
            resource_version=str((obj.get("metadata") or {}).get("resourceVersion") or "") or None,
        )
        return self._append(change, managers)

    def deleted(
        self, kind: str, namespace: str | None, name: str, resource_version: str | None = None
    ) -> Change | None:
        """Record that an object is gone (once; an unknown or already deleted object records nothing)."""
        head = self.store.head(kind, namespace, name)
        if head is None or head.deleted:
            return None
        change = Change(
            kind=kind,
            namespace=namespace,
            name=name,
            time=self.clock(),
            event="deleted",
            diff=field_diff(head.snapshot, None),
            before=head.snapshot,
            after=None,
            resource_version=resource_version,
        )
        return self._append(change, [])

    def _append(self, change: Change, managers: list[list[str]]) -> Change:
        change.id = self.store.append(change, managers=managers)
        if self.on_change is not None:
            self.on_change(change)
        return change
