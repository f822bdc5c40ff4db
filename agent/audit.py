"""The audit log: append-only, hash-chained, in SQLite or Postgres.

Every row carries the SHA-256 of the previous row's hash and its own canonical content, so altering
or removing a row breaks the chain at that row; a head record (last id and hash, written in the same
transaction) catches a removed tail. Triggers refuse UPDATE and DELETE, so no code path can change
history by accident. Payloads are redacted before they are written.

This is tamper-evident, not tamper-proof: someone who can rewrite the whole file can rebuild the
chain. An append reads the head and writes the row and the new head in one serializable transaction
(SQLite: ``BEGIN IMMEDIATE``; Postgres: SERIALIZABLE, tried again when a concurrent append won), so
two writers can never both chain onto the same row. :mod:`agent.audit_anchor` publishes the head outside the file (serve does it periodically), and
``audit verify --against EXPORT`` catches such a rewrite.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from agent import storage
from agent.guard import ActionRecord
from agent.settings import Settings
from agent.storage import db as storage_db
from agent.storage.db import Database, Tx
from agent.storage.migrations import Step, migrate

if TYPE_CHECKING:
    from agent.storage.interfaces import AuditStore
from tools.redact import redact_obj

AuditKind = Literal[
    "run_started",
    "tool_call",
    "decision",
    "approval_requested",
    "approval_decided",
    "action_applied",
    "action_skipped",
    "action_undone",
    "verify",
    "run_finished",
    "request_refused",
]

GENESIS = "0" * 64

_COLUMNS = (
    "ts TEXT NOT NULL, kind TEXT NOT NULL, incident_id TEXT, actor TEXT NOT NULL, data TEXT NOT NULL,"
    " idempotency_key TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL"
)
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS audit_incident ON audit(incident_id)",
    "CREATE INDEX IF NOT EXISTS audit_idem ON audit(idempotency_key)",
)
_SQLITE_V1 = (
    f"CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, {_COLUMNS})",
    *_INDEXES,
    "CREATE TABLE IF NOT EXISTS audit_head (one INTEGER PRIMARY KEY CHECK (one = 1), last_id INTEGER,"
    " last_hash TEXT)",
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
)
_POSTGRES_V1 = (
    f"CREATE TABLE IF NOT EXISTS audit (id BIGINT PRIMARY KEY, {_COLUMNS})",
    *_INDEXES,
    "CREATE TABLE IF NOT EXISTS audit_head (one INTEGER PRIMARY KEY CHECK (one = 1), last_id BIGINT,"
    " last_hash TEXT)",
    "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$",
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit EXECUTE FUNCTION audit_append_only()",
)
MIGRATIONS = (Step(1, "the chained log and its head", {"sqlite": _SQLITE_V1, "postgres": _POSTGRES_V1}),)


class AuditRow(BaseModel):
    id: int
    ts: str
    kind: str
    incident_id: str | None
    actor: str
    data: dict[str, Any]
    idempotency_key: str | None
    prev_hash: str
    hash: str


class VerifyReport(BaseModel):
    ok: bool
    rows_checked: int
    first_bad_id: int | None = None
    problem: str | None = None


def _digest(
    prev_hash: str,
    row_id: int,
    ts: str,
    kind: str,
    incident: str | None,
    actor: str,
    data: str,
    idem: str | None,
) -> str:
    canonical = json.dumps([prev_hash, row_id, ts, kind, incident, actor, data, idem], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditLog:
    """The log on a SQLite file (a path) or any :class:`Database`; safe to share between processes."""

    def __init__(self, where: Path | Database) -> None:
        self.db = where if isinstance(where, Database) else storage_db.sqlite(where)
        self.path = self.db.file
        migrate(self.db, "audit", MIGRATIONS)

    @classmethod
    def open(cls, settings: Settings) -> AuditLog:
        """The log these settings name: Postgres when configured, else ``DATA_DIR/audit.sqlite``."""
        return cls(storage.database(settings, "audit.sqlite"))

    def append(
        self,
        kind: AuditKind,
        *,
        incident_id: str | None = None,
        actor: str = "agent",
        data: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> AuditRow:
        """Write one row; ``at`` (default now) is for importing or scripting a record with its own times."""
        payload = json.dumps(redact_obj(data or {}), sort_keys=True, default=str)

        def chain(db: Tx) -> AuditRow:
            ts = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")
            head = db.one("SELECT last_id, last_hash FROM audit_head WHERE one = 1")
            last_id, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
            row_id = last_id + 1
            digest = _digest(prev, row_id, ts, kind, incident_id, actor, payload, idempotency_key)
            db.execute(
                "INSERT INTO audit (id, ts, kind, incident_id, actor, data, idempotency_key, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row_id, ts, kind, incident_id, actor, payload, idempotency_key, prev, digest),
            )
            db.execute(
                "INSERT INTO audit_head (one, last_id, last_hash) VALUES (1, ?, ?)"
                " ON CONFLICT(one) DO UPDATE SET last_id = excluded.last_id, last_hash = excluded.last_hash",
                (row_id, digest),
            )
            return AuditRow(
                id=row_id,
                ts=ts,
                kind=kind,
                incident_id=incident_id,
                actor=actor,
                data=json.loads(payload),
                idempotency_key=idempotency_key,
                prev_hash=prev,
                hash=digest,
            )

        return self.db.retrying(chain)

    def rows(
        self, incident_id: str | None = None, kind: str | None = None, limit: int | None = None
    ) -> list[AuditRow]:
        sql = "SELECT id, ts, kind, incident_id, actor, data, idempotency_key, prev_hash, hash FROM audit"
        where, params = [], []
        if incident_id:
            where.append("incident_id = ?")
            params.append(incident_id)
        if kind:
            where.append("kind = ?")
            params.append(kind)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        with self.db.tx() as db:
            found = db.all(sql, params)
        out = [
            AuditRow(
                id=r[0],
                ts=r[1],
                kind=r[2],
                incident_id=r[3],
                actor=r[4],
                data=json.loads(r[5]),
                idempotency_key=r[6],
                prev_hash=r[7],
                hash=r[8],
            )
            for r in found
        ]
        return out[-limit:] if limit else out

    def has_applied(self, idempotency_key: str) -> bool:
        """True when an action with this key was already applied (exactly-once across restarts)."""
        with self.db.tx() as db:
            row = db.one(
                "SELECT 1 FROM audit WHERE idempotency_key = ? AND kind = 'action_applied' LIMIT 1",
                (idempotency_key,),
            )
        return row is not None

    def action_history(self, since: datetime) -> list[ActionRecord]:
        """Applied actions since a time, for the guard's cooldown and hourly limit."""
        out = []
        for row in self.rows(kind="action_applied"):
            at = datetime.fromisoformat(row.ts)
            if at >= since:
                out.append(
                    ActionRecord(
                        tool=str(row.data.get("tool")), target_key=str(row.data.get("target_ref")), at=at
                    )
                )
        return out

    def head(self) -> tuple[int, str]:
        """The chain's head as its head record says: (last row id, its hash); (0, GENESIS) when empty."""
        with self.db.tx() as db:
            head = db.one("SELECT last_id, last_hash FROM audit_head WHERE one = 1")
        return (int(head[0]), str(head[1])) if head else (0, GENESIS)

    def hash_of(self, row_id: int) -> str | None:
        """The stored hash of one row, or None when there is no such row."""
        with self.db.tx() as db:
            row = db.one("SELECT hash FROM audit WHERE id = ?", (row_id,))
        return str(row[0]) if row else None

    def verify(self) -> VerifyReport:
        """Walk the chain; name the first row that was altered, inserted or removed."""
        with self.db.tx(snapshot=True) as db:  # rows and head from one moment
            found = db.all(
                "SELECT id, ts, kind, incident_id, actor, data, idempotency_key, prev_hash, hash FROM audit ORDER BY id"
            )
            head = db.one("SELECT last_id, last_hash FROM audit_head WHERE one = 1")
        prev, expected_id = GENESIS, 1
        for r in found:
            if r[0] != expected_id:
                return VerifyReport(
                    ok=False,
                    rows_checked=expected_id - 1,
                    first_bad_id=expected_id,
                    problem=f"row {expected_id} is missing (next row is {r[0]}): a row was deleted",
                )
            if r[7] != prev:
                return VerifyReport(
                    ok=False,
                    rows_checked=expected_id - 1,
                    first_bad_id=r[0],
                    problem=f"row {r[0]} does not chain to row {r[0] - 1}: a row before it changed or was removed",
                )
            if _digest(r[7], r[0], r[1], r[2], r[3], r[4], r[5], r[6]) != r[8]:
                return VerifyReport(
                    ok=False,
                    rows_checked=expected_id - 1,
                    first_bad_id=r[0],
                    problem=f"row {r[0]} ({r[2]} at {r[1]}) was altered: its content no longer matches its hash",
                )
            prev, expected_id = r[8], expected_id + 1
        count = expected_id - 1
        if head is not None and (head[0] != count or head[1] != prev):
            return VerifyReport(
                ok=False,
                rows_checked=count,
                first_bad_id=count + 1,
                problem=f"the log ends at row {count} but its head says row {head[0]}: rows were removed from the end",
            )
        return VerifyReport(ok=True, rows_checked=count)


if TYPE_CHECKING:  # the class keeps the interface the agent relies on
    _audit_store: type[AuditStore] = AuditLog
