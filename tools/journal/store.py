"""Where the journal keeps versions: one small interface, a SQLite implementation.

The SQL is kept portable (no SQLite-only functions; ``INSERT ... ON CONFLICT DO UPDATE`` exists in
Postgres too) so a Postgres store can implement the same :class:`JournalStore` later.
Times are stored as fixed-width UTC strings, so comparing them as text compares the instants.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from tools.journal.model import Change, FieldChange

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def fmt_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime(TIME_FORMAT)


def parse_stored_time(s: str) -> datetime:
    return datetime.strptime(s, TIME_FORMAT).replace(tzinfo=UTC)


class HeadRow:
    """The last version the journal knows of one object, and the managedFields writers it had."""

    def __init__(self, snapshot: dict[str, Any] | None, managers: list[list[str]], deleted: bool) -> None:
        self.snapshot = snapshot
        self.managers = managers
        self.deleted = deleted


class JournalStore(Protocol):
    """The journal's storage. Implementations: :class:`SqliteJournal` (Postgres to come)."""

    def append(self, change: Change, *, managers: list[list[str]]) -> int:
        """Store one change and make its ``after`` the object's head; returns the change's id."""

    def head(self, kind: str, namespace: str | None, name: str) -> HeadRow | None:
        """The last stored version of one object (deleted ones too), or None if never seen."""

    def set_head(
        self, kind: str, namespace: str | None, name: str, snapshot: dict[str, Any], managers: list[list[str]]
    ) -> None:
        """Remember an object's current version without recording a change (the first sighting)."""

    def live_objects(self, kind: str) -> list[tuple[str | None, str]]:
        """(namespace, name) of every object of ``kind`` whose head is not deleted."""

    def query(
        self,
        namespace: str | None,
        since: datetime,
        objects: list[tuple[str, str]] | None = None,
        until: datetime | None = None,
    ) -> list[Change]:
        """Changes at or after ``since`` (and before ``until``), oldest first; ``objects`` filters
        by (kind, name), kind case-insensitive; ``namespace`` None = every namespace (nodes are
        cluster-scoped and always included)."""

    def bookmark(self, key: str) -> str | None:
        """The resourceVersion to resume the watch ``key`` from, or None."""

    def set_bookmark(self, key: str, resource_version: str | None) -> None:
        """Remember (or with None forget) where the watch ``key`` is."""

    def covered_since(self) -> datetime | None:
        """When the journal first listed the cluster (changes before that come from fallbacks)."""

    def prune(self, *, max_age: timedelta | None = None, max_changes: int | None = None) -> int:
        """Delete changes older than ``max_age`` and beyond the newest ``max_changes``; returns how many."""

    def close(self) -> None:
        """Release the connection."""


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS journal_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        changed_at TEXT NOT NULL, recorded_at TEXT NOT NULL,
        actor TEXT, operation TEXT, source TEXT NOT NULL, event TEXT NOT NULL,
        resource_version TEXT, diff TEXT NOT NULL, before_obj TEXT, after_obj TEXT)""",
    "CREATE INDEX IF NOT EXISTS journal_changes_time ON journal_changes (changed_at)",
    "CREATE INDEX IF NOT EXISTS journal_changes_obj ON journal_changes (kind, namespace, name)",
    """CREATE TABLE IF NOT EXISTS journal_heads (
        kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        snapshot TEXT, managers TEXT NOT NULL, deleted INTEGER NOT NULL,
        PRIMARY KEY (kind, namespace, name))""",
    """CREATE TABLE IF NOT EXISTS journal_bookmarks (
        watch_key TEXT PRIMARY KEY, resource_version TEXT, updated_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS journal_meta (meta_key TEXT PRIMARY KEY, meta_value TEXT NOT NULL)""",
)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class SqliteJournal:
    """:class:`JournalStore` in one SQLite file (WAL, one connection shared under a lock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        with self._lock:
            for statement in _SCHEMA:
                self._db.execute(statement)

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def append(self, change: Change, *, managers: list[list[str]]) -> int:
        now = fmt_time(datetime.now(UTC))
        ns = change.namespace or ""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                cur = self._db.execute(
                    "INSERT INTO journal_changes (kind, namespace, name, changed_at, recorded_at, actor, "
                    "operation, source, event, resource_version, diff, before_obj, after_obj) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        change.kind, ns, change.name, fmt_time(change.time), now, change.actor,
                        change.operation, change.source, change.event, change.resource_version,
                        _dump([d.as_dict() for d in change.diff]), _dump(change.before), _dump(change.after),
                    ),
                )  # fmt: skip
                self._upsert_head(
                    change.kind, ns, change.name, change.after, managers, change.event == "deleted"
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return int(cur.lastrowid or 0)

    def _upsert_head(
        self, kind: str, ns: str, name: str, snapshot: Any, managers: list[list[str]], deleted: bool
    ) -> None:
        self._db.execute(
            "INSERT INTO journal_heads (kind, namespace, name, snapshot, managers, deleted) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, namespace, name) DO UPDATE SET "
            "snapshot = excluded.snapshot, managers = excluded.managers, deleted = excluded.deleted",
            (kind, ns, name, _dump(snapshot), _dump(managers) or "[]", 1 if deleted else 0),
        )

    def set_head(
        self, kind: str, namespace: str | None, name: str, snapshot: dict[str, Any], managers: list[list[str]]
    ) -> None:
        with self._lock:
            self._upsert_head(kind, namespace or "", name, snapshot, managers, False)

    def head(self, kind: str, namespace: str | None, name: str) -> HeadRow | None:
        rows = self._exec(
            "SELECT snapshot, managers, deleted FROM journal_heads WHERE kind = ? AND namespace = ? AND name = ?",
            (kind, namespace or "", name),
        )
        if not rows:
            return None
        snapshot, managers, deleted = rows[0]
        return HeadRow(_load(snapshot), _load(managers) or [], bool(deleted))

    def live_objects(self, kind: str) -> list[tuple[str | None, str]]:
        rows = self._exec(
            "SELECT namespace, name FROM journal_heads WHERE kind = ? AND deleted = 0 ORDER BY namespace, name",
            (kind,),
        )
        return [(ns or None, name) for ns, name in rows]

    def query(
        self,
        namespace: str | None,
        since: datetime,
        objects: list[tuple[str, str]] | None = None,
        until: datetime | None = None,
    ) -> list[Change]:
        sql = (
            "SELECT id, kind, namespace, name, changed_at, actor, operation, source, event, "
            "resource_version, diff, before_obj, after_obj FROM journal_changes WHERE changed_at >= ?"
        )
        params: list[Any] = [fmt_time(since)]
        if until is not None:
            sql += " AND changed_at < ?"
            params.append(fmt_time(until))
        if namespace is not None:
            sql += " AND (namespace = ? OR namespace = '')"
            params.append(namespace)
        rows = self._exec(sql + " ORDER BY changed_at, id", tuple(params))
        wanted = {(k.lower(), n) for k, n in objects} if objects else None
        out = []
        for row in rows:
            id_, kind, ns, name, at, actor, operation, source, event, rv, diff, before, after = row
            if wanted is not None and (kind.lower(), name) not in wanted:
                continue
            out.append(
                Change(
                    id=id_,
                    kind=kind,
                    namespace=ns or None,
                    name=name,
                    time=parse_stored_time(at),
                    actor=actor,
                    operation=operation,
                    source=source,
                    event=event,
                    resource_version=rv,
                    diff=[FieldChange(**d) for d in _load(diff) or []],
                    before=_load(before),
                    after=_load(after),
                )
            )
        return out

    def bookmark(self, key: str) -> str | None:
        rows = self._exec("SELECT resource_version FROM journal_bookmarks WHERE watch_key = ?", (key,))
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def set_bookmark(self, key: str, resource_version: str | None) -> None:
        now = fmt_time(datetime.now(UTC))
        with self._lock:
            self._db.execute(
                "INSERT INTO journal_bookmarks (watch_key, resource_version, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (watch_key) DO UPDATE SET resource_version = excluded.resource_version, "
                "updated_at = excluded.updated_at",
                (key, resource_version, now),
            )
            self._db.execute(
                "INSERT INTO journal_meta (meta_key, meta_value) VALUES ('covered_since', ?) "
                "ON CONFLICT (meta_key) DO NOTHING",
                (now,),
            )

    def covered_since(self) -> datetime | None:
        rows = self._exec("SELECT meta_value FROM journal_meta WHERE meta_key = 'covered_since'")
        return parse_stored_time(rows[0][0]) if rows else None

    def prune(self, *, max_age: timedelta | None = None, max_changes: int | None = None) -> int:
        removed = 0
        with self._lock:
            if max_age is not None:
                cutoff = fmt_time(datetime.now(UTC) - max_age)
                removed += self._db.execute(
                    "DELETE FROM journal_changes WHERE changed_at < ?", (cutoff,)
                ).rowcount
            if max_changes is not None:
                removed += self._db.execute(
                    "DELETE FROM journal_changes WHERE id NOT IN "
                    "(SELECT id FROM journal_changes ORDER BY id DESC LIMIT ?)",
                    (max_changes,),
                ).rowcount
        return removed

    def close(self) -> None:
        with self._lock:
            self._db.close()
