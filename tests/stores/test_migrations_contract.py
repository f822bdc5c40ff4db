"""Versioned schemas on both backends: steps run once and are recorded, a file from before versions
is brought up to date with its data, and a schema newer than the code is refused with what to do."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from stores.conftest import Backend

from agent.approvals import ApprovalStore
from agent.audit import AuditLog
from agent.server.queue import WorkQueue
from agent.storage.migrations import MigrationError, Step, migrate, schema_version

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

# the work table as serve.sqlite had it before leases and versions
_OLD_WORK = """CREATE TABLE work (id INTEGER PRIMARY KEY AUTOINCREMENT, incident_id TEXT NOT NULL,
kind TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, error TEXT, payload TEXT,
not_before TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"""


def test_each_store_records_its_version_once(backend: Backend) -> None:
    WorkQueue(backend.open("serve.sqlite"))
    ApprovalStore(backend.open("approvals.sqlite"))
    AuditLog(backend.open("audit.sqlite"))
    WorkQueue(backend.open("serve.sqlite"))  # a second start changes nothing
    assert schema_version(backend.open("serve.sqlite"), "queue") == 2
    assert schema_version(backend.open("approvals.sqlite"), "approvals") == 2
    assert schema_version(backend.open("audit.sqlite"), "audit") == 1
    with backend.open("serve.sqlite").tx() as tx:
        rows = tx.all("SELECT version FROM devops_agent_migrations WHERE store = 'queue' ORDER BY version")
    assert [r[0] for r in rows] == [1, 2]


def test_workers_starting_together_apply_each_step_once(backend: Backend) -> None:
    errors: list[BaseException] = []
    go = threading.Barrier(4)

    def start() -> None:
        try:
            go.wait()
            WorkQueue(backend.open("serve.sqlite"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with backend.open("serve.sqlite").tx() as tx:
        assert tx.one("SELECT COUNT(*) FROM devops_agent_migrations WHERE store = 'queue'")[0] == 2


def test_a_schema_newer_than_this_code_is_refused(backend: Backend) -> None:
    db = backend.open("x.sqlite")
    steps = (
        Step(1, "t", {"sqlite": ("CREATE TABLE t (a TEXT)",), "postgres": ("CREATE TABLE t (a TEXT)",)}),
    )
    newer = (
        *steps,
        Step(2, "u", {"sqlite": ("ALTER TABLE t ADD b TEXT",), "postgres": ("ALTER TABLE t ADD b TEXT",)}),
    )
    assert migrate(db, "demo", newer) == 2
    with pytest.raises(MigrationError, match="at version 2, newer than this devops-agent knows"):
        migrate(db, "demo", steps)


def test_a_sqlite_file_from_before_versions_is_upgraded_with_its_work(tmp_path) -> None:
    path = tmp_path / "serve.sqlite"
    old = sqlite3.connect(path)
    old.execute(_OLD_WORK)
    old.execute(
        "INSERT INTO work (incident_id, kind, state, attempts, created_at, updated_at)"
        " VALUES ('inc-1', 'investigate', 'running', 1, '2026-01-01', '2026-01-01')"
    )
    old.commit()
    old.close()
    q = WorkQueue(path)
    assert schema_version(q.db, "queue") == 2
    assert q.recover() == 1  # the item a dead serve held, with no lease recorded, is queued again
    item = q.claim()
    assert item is not None and item.incident_id == "inc-1" and item.attempts == 2
