"""Versioned schema migrations: each store lists numbered steps; a table records which ran.

``devops_agent_migrations(store, version, applied_at)`` holds one row per applied step. A step is
SQL for each engine (a tuple of statements), applied with its row in one transaction, so a step is
either in the database with its row or not at all. On Postgres the steps of a store run under an
advisory lock, so workers starting together apply each step once; on SQLite ``BEGIN IMMEDIATE``
does the same. Steps only ever get added: a released step is never edited.

SQLite files made before this table existed get step 1 again; their step 1 is written with
``IF NOT EXISTS``, so it finds its tables and only records the version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.storage.db import Database, Dialect, Tx

_TABLE = (
    "CREATE TABLE IF NOT EXISTS devops_agent_migrations (store TEXT NOT NULL, version INTEGER NOT NULL,"
    " applied_at TEXT NOT NULL, PRIMARY KEY (store, version))"
)


@dataclass(frozen=True)
class Step:
    """One numbered change of a store's schema, as SQL for each engine."""

    version: int
    description: str
    sql: Mapping[Dialect, tuple[str, ...]]


class MigrationError(RuntimeError):
    """The schema cannot be brought up to date."""


def migrate(db: Database, store: str, steps: tuple[Step, ...]) -> int:
    """Apply the steps of ``store`` this database has not seen; returns its version afterwards."""
    versions = [s.version for s in steps]
    if versions != list(range(1, len(steps) + 1)):
        raise MigrationError(f"the steps of {store} must be numbered 1, 2, 3, ...; got {versions}")
    if _already_at(db, store, len(steps)):
        return len(steps)  # the usual case: no write, no lock
    with db.tx(lock="devops-agent-migrations") as tx:
        tx.execute(_TABLE)
    with db.tx(lock=f"devops-agent-migrations:{store}") as tx:
        current = _version(tx, store)
        if current > len(steps):
            raise MigrationError(
                f"the {store} schema in {db!r} is at version {current}, newer than this devops-agent "
                f"knows ({len(steps)}); upgrade devops-agent on this machine"
            )
        for step in steps[current:]:
            for statement in step.sql[db.dialect]:
                tx.execute(statement)
            tx.execute(
                "INSERT INTO devops_agent_migrations (store, version, applied_at) VALUES (?, ?, ?)",
                (store, step.version, datetime.now(UTC).isoformat(timespec="seconds")),
            )
        return len(steps)


def _already_at(db: Database, store: str, version: int) -> bool:
    try:
        with db.tx() as tx:
            return _version(tx, store) == version
    except Exception:  # no migrations table yet (a new database, or a file from before versions)
        return False


def _version(tx: Tx, store: str) -> int:
    row = tx.one("SELECT MAX(version) FROM devops_agent_migrations WHERE store = ?", (store,))
    return int(row[0]) if row and row[0] is not None else 0


def schema_version(db: Database, store: str) -> int:
    """The version this database's ``store`` schema is at (0: never migrated)."""
    with db.tx() as tx:
        tx.execute(_TABLE)
        return _version(tx, store)
