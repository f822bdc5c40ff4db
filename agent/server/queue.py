"""The durable work queue and the incident index of `serve`, in one SQLite file.

A webhook call only writes here (a few milliseconds), so an alert storm never waits on an
investigation and nothing is lost when the process dies: on start, work that was running is queued
again and the investigation resumes from its last checkpoint (thread id = incident id).

One open incident per Alertmanager group key; further alerts of the group are folded into it; when
every alert of the incident is resolved, a ``close`` item is queued.

Correlation: one fault raises several alert groups (the failing service's, its callers', the SLO
burn). A group that opens while another incident of the same namespace is still being investigated
becomes a *correlated* incident of it: it is recorded, but not investigated in parallel (two
investigations would race to fix the same thing). When the first investigation ends, correlated
incidents whose alerts still fire are investigated after a short delay; those the fix resolved are
closed by Alertmanager's resolved notification without an investigation.

Folding: when the first investigation ends without a verified fix (escalated to a human, or the fix
failed), correlated incidents on its failing path are *folded* into it: no run of their own (it
would only repeat the same diagnosis and page again); the parent's report and hand-off list them.
A group that opens later while such a parent is still open is folded at once. Incidents whose
service is off the parent's path are investigated on their own.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from agent.server.alerts import WebhookPayload

WorkKind = Literal["investigate", "close", "resume"]
ENDED_UNFIXED = ("escalated", "mitigation_failed")
"""Run endings after which correlated groups on the same failing path fold into the incident."""


def with_folded(outcome: dict[str, Any], alerts: list[str]) -> dict[str, Any]:
    """The outcome with these folded alerts listed (in its report and hand-off too), once each."""
    known = list(outcome.get("folded_alerts") or [])
    new = [a for a in alerts if a not in known]
    if not new:
        return outcome
    out = {**outcome, "folded_alerts": known + new}
    report = str(out.get("report") or "")
    head = "\n## Alerts folded into this incident\n"
    if head not in report:
        report += head + "\nSame failing path, no run of their own:\n"
    out["report"] = report + "".join(f"- {a}\n" for a in new)
    if isinstance(out.get("handoff"), dict):
        out["handoff"] = {**out["handoff"], "folded_alerts": known + new}
    return out


def _note_folded(db: sqlite3.Connection, parent: str, alerts: list[str]) -> None:
    row = db.execute("SELECT outcome FROM incidents WHERE id = ?", (parent,)).fetchone()
    outcome = json.loads(row[0]) if row and row[0] else {}
    db.execute(
        "UPDATE incidents SET outcome = ?, updated_at = ? WHERE id = ?",
        (json.dumps(with_folded(outcome, alerts), default=str), _now(), parent),
    )


def _on_path(service: str | None, path: list[str] | None) -> bool:
    """The service is one of the objects on the parent's failing path (unknown either way: assume so)."""
    if not service or not path:
        return True
    return any(str(p).rsplit("/", 1)[-1] == service for p in path)


MAX_ATTEMPTS = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    group_key TEXT NOT NULL,
    status TEXT NOT NULL,
    alertname TEXT,
    namespace TEXT,
    service TEXT,
    severity TEXT,
    common_labels TEXT NOT NULL,
    alerts TEXT NOT NULL,
    repeats INTEGER NOT NULL DEFAULT 0,
    parent_id TEXT,
    outcome TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents(group_key, closed_at);
CREATE TABLE IF NOT EXISTS work (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    payload TEXT,
    not_before TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS work_state ON work(state, id);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class IngestResult:
    incident_id: str
    opened: bool
    folded: int
    closing: bool
    parent_id: str | None = None
    folded_into: str | None = None
    """The open incident this new group was folded into (same failing path; no run of its own)."""


@dataclass(frozen=True)
class WorkItem:
    id: int
    incident_id: str
    kind: WorkKind
    attempts: int
    payload: str | None = None


class WorkQueue:
    def __init__(
        self,
        path: Path,
        *,
        correlate_window_s: float = 600,
        follow_up_delay_s: float = 45,
        follow_up_settle_s: float = 600,
    ) -> None:
        self.path = path
        self.correlate_window_s = correlate_window_s
        self.follow_up_delay_s = follow_up_delay_s
        self.follow_up_settle_s = follow_up_settle_s
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        finally:
            db.close()

    @contextmanager
    def _tx(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # --- intake -------------------------------------------------------------------------------
    def ingest(self, payload: WebhookPayload) -> IngestResult:
        """Fold one webhook call into its incident; queue work when an incident opens or closes."""
        now = _now()
        with self._tx(immediate=True) as db:
            row = db.execute(
                "SELECT id, alerts, repeats FROM incidents WHERE group_key = ? AND closed_at IS NULL",
                (payload.groupKey,),
            ).fetchone()
            firing = [a for a in payload.alerts if a.status == "firing"]
            if row is None and not firing:
                return IngestResult(incident_id="", opened=False, folded=0, closing=False)
            if row is None:
                incident_id = "inc-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
                alerts: dict[str, Any] = {}
                repeats = 0
                opened = True
            else:
                incident_id, alerts, repeats, opened = row[0], json.loads(row[1]), row[2], False
            folded = 0
            for a in payload.alerts:
                key = a.key()
                if key in alerts:
                    folded += 1
                alerts[key] = {
                    "status": a.status,
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": a.startsAt.isoformat() if a.startsAt else None,
                    "fingerprint": key,
                }
            common = payload.commonLabels or (firing[0].labels if firing else payload.alerts[0].labels)
            all_resolved = all(v["status"] == "resolved" for v in alerts.values())
            found = self._parent_for(db, common.get("namespace")) if opened else None
            parent = found[0] if found else None
            service = common.get("service") or common.get("deployment")
            # a parent that already ended without a fix and is still open takes this group in at once
            fold = found is not None and found[1] in ENDED_UNFIXED and _on_path(service, found[2])
            if found is not None and found[1] == "resolved" and not _on_path(service, found[2]):
                found = parent = None  # a fixed incident elsewhere says nothing about this one
            follow_up = found is not None and found[1] == "resolved"
            if opened:
                db.execute(
                    "INSERT INTO incidents (id, group_key, status, alertname, namespace, service, severity,"
                    " common_labels, alerts, repeats, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        incident_id,
                        payload.groupKey,
                        "folded" if fold else "correlated" if parent and not follow_up else "queued",
                        common.get("alertname"),
                        common.get("namespace"),
                        common.get("service") or common.get("deployment"),
                        common.get("severity"),
                        json.dumps(common),
                        json.dumps(alerts),
                        0,
                        now,
                        now,
                    ),
                )
                if parent:
                    db.execute("UPDATE incidents SET parent_id = ? WHERE id = ?", (parent, incident_id))
                    if fold:
                        _note_folded(db, parent, [f"{common.get('alertname')} ({incident_id})"])
                    elif follow_up:  # opened on the path after its verified fix: a lagging alert?
                        later = self._later(self.follow_up_delay_s)
                        self._enqueue(db, incident_id, "investigate", now, not_before=later)
                else:
                    self._enqueue(db, incident_id, "investigate", now)
            else:
                db.execute(
                    "UPDATE incidents SET alerts = ?, repeats = ?, updated_at = ? WHERE id = ?",
                    (json.dumps(alerts), repeats + folded, now, incident_id),
                )
            closing = all_resolved
            if closing:
                db.execute(
                    "UPDATE incidents SET closed_at = ?, updated_at = ? WHERE id = ?", (now, now, incident_id)
                )
                self._enqueue(db, incident_id, "close", now)
            return IngestResult(
                incident_id=incident_id,
                opened=opened,
                folded=folded,
                closing=closing,
                parent_id=parent,
                folded_into=parent if fold else None,
            )

    def _parent_for(
        self, db: sqlite3.Connection, namespace: str | None
    ) -> tuple[str, str, list[str] | None] | None:
        """The incident of the same namespace, opened within the window, that a new group belongs to:
        one still at work first (even if its own alerts resolved meanwhile: its fix is being verified),
        else one that ended, fixed or not, and is still open, else one whose verified fix closed it.
        Returns (id, status, its failing path's objects when known); a closed one reads ``resolved``."""
        if self.correlate_window_s <= 0:
            return None
        since = (datetime.now(UTC) - timedelta(seconds=self.correlate_window_s)).isoformat(
            timespec="milliseconds"
        )
        row = db.execute(
            "SELECT id, status, outcome FROM incidents WHERE parent_id IS NULL AND namespace IS ?"
            " AND created_at >= ? AND (status IN ('queued', 'investigating', 'awaiting_approval', 'acting')"
            " OR (closed_at IS NULL AND status IN ('escalated', 'mitigation_failed', 'resolved'))"
            " OR (status = 'closed' AND json_extract(outcome, '$.status') = 'resolved'))"
            " ORDER BY status IN ('escalated', 'mitigation_failed', 'resolved', 'closed'), closed_at IS NOT NULL,"
            " created_at LIMIT 1",
            (namespace, since),
        ).fetchone()
        if row is None:
            return None
        outcome = json.loads(row[2]) if row[2] else {}
        status = "resolved" if row[1] == "closed" else str(row[1])
        return str(row[0]), status, outcome.get("path")

    def release_children(
        self, parent_id: str, parent_status: str | None = None, path: list[str] | None = None
    ) -> list[str]:
        """The parent's investigation ended. After a verified fix, the correlated incidents that still
        fire are queued (after a short delay: the fix may cure them); without one, those on the
        parent's failing path are folded into it, and the others queued now. Returns the queued ids."""
        now = datetime.now(UTC)
        not_before = (now + timedelta(seconds=self.follow_up_delay_s)).isoformat(timespec="milliseconds")
        queued = []
        with self._tx(immediate=True) as db:
            rows = db.execute(
                "SELECT id, service FROM incidents WHERE parent_id = ? AND closed_at IS NULL"
                " AND status = 'correlated'",
                (parent_id,),
            ).fetchall()
            for child, service in rows:
                if parent_status in ENDED_UNFIXED and _on_path(service, path):
                    db.execute(
                        "UPDATE incidents SET status = 'folded', updated_at = ? WHERE id = ?", (_now(), child)
                    )
                    continue
                db.execute(
                    "UPDATE incidents SET status = 'queued', updated_at = ? WHERE id = ?", (_now(), child)
                )
                later = not_before if parent_status not in ENDED_UNFIXED else None
                self._enqueue(db, child, "investigate", _now(), not_before=later)
                queued.append(child)
        return queued

    def fold_lagging(self, child_id: str, note: str) -> None:
        """A follow-up whose alert lags a verified fix: folded into its parent (listed in its report),
        and looked at again once the settle window has passed, if it still fires then."""
        with self._tx(immediate=True) as db:
            row = db.execute("SELECT parent_id FROM incidents WHERE id = ?", (child_id,)).fetchone()
            if row is None or row[0] is None:
                return
            db.execute(
                "UPDATE incidents SET status = 'folded', updated_at = ? WHERE id = ?", (_now(), child_id)
            )
            _note_folded(db, row[0], [note])
            self._enqueue(
                db,
                child_id,
                "investigate",
                _now(),
                not_before=self._later(self.follow_up_settle_s),
                payload=json.dumps({"recheck": True}),
            )

    @staticmethod
    def _later(seconds: float) -> str:
        return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")

    def children(self, parent_id: str) -> list[dict[str, Any]]:
        """Incidents correlated with or folded into ``parent_id``: id, alertname, service, status."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, alertname, service, status FROM incidents WHERE parent_id = ? ORDER BY created_at",
                (parent_id,),
            ).fetchall()
        return [{"id": r[0], "alertname": r[1], "service": r[2], "status": r[3]} for r in rows]

    def enqueue(self, incident_id: str, kind: WorkKind, *, payload: str | None = None) -> None:
        with self._tx(immediate=True) as db:
            self._enqueue(db, incident_id, kind, _now(), payload=payload)

    @staticmethod
    def _enqueue(
        db: sqlite3.Connection,
        incident_id: str,
        kind: WorkKind,
        now: str,
        not_before: str | None = None,
        payload: str | None = None,
    ) -> None:
        db.execute(
            "INSERT INTO work (incident_id, kind, state, payload, not_before, created_at, updated_at)"
            " VALUES (?, ?, 'queued', ?, ?, ?, ?)",
            (incident_id, kind, payload, not_before, now, now),
        )

    # --- workers ------------------------------------------------------------------------------
    def claim(self) -> WorkItem | None:
        """Take the oldest queued item (investigations of one incident never run twice at once)."""
        with self._tx(immediate=True) as db:
            row = db.execute(
                "SELECT id, incident_id, kind, attempts, payload FROM work w WHERE state = 'queued'"
                " AND (not_before IS NULL OR not_before <= ?) AND NOT EXISTS"
                " (SELECT 1 FROM work r WHERE r.state = 'running' AND r.incident_id = w.incident_id)"
                " ORDER BY id LIMIT 1",
                (_now(),),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE work SET state = 'running', attempts = attempts + 1, updated_at = ? WHERE id = ?",
                (_now(), row[0]),
            )
            return WorkItem(id=row[0], incident_id=row[1], kind=row[2], attempts=row[3] + 1, payload=row[4])

    def finish(self, item: WorkItem, *, error: str | None = None) -> None:
        """Mark done, or on error queue again until MAX_ATTEMPTS, then failed."""
        with self._tx(immediate=True) as db:
            state = "done" if error is None else ("queued" if item.attempts < MAX_ATTEMPTS else "failed")
            db.execute(
                "UPDATE work SET state = ?, error = ?, updated_at = ? WHERE id = ?",
                (state, error, _now(), item.id),
            )

    def recover(self) -> int:
        """After a crash: work that was running goes back to the queue. Returns how many."""
        with self._tx(immediate=True) as db:
            cur = db.execute(
                "UPDATE work SET state = 'queued', updated_at = ? WHERE state = 'running'", (_now(),)
            )
            return cur.rowcount

    def open_count(self) -> int:
        """Incidents Alertmanager has not closed yet."""
        with self._tx() as db:
            return int(db.execute("SELECT COUNT(*) FROM incidents WHERE closed_at IS NULL").fetchone()[0])

    def depth(self) -> int:
        with self._tx() as db:
            return int(
                db.execute("SELECT COUNT(*) FROM work WHERE state IN ('queued', 'running')").fetchone()[0]
            )

    # --- incidents ----------------------------------------------------------------------------
    def set_status(self, incident_id: str, status: str, outcome: dict[str, Any] | None = None) -> None:
        """Record where an incident stands. Once Alertmanager closed it, only ``closed`` is a status;
        later outcomes (a run that was still verifying) are kept without reopening it."""
        keep_closed = "CASE WHEN closed_at IS NOT NULL AND status = 'closed' THEN 'closed' ELSE ? END"
        with self._tx(immediate=True) as db:
            if outcome is None:
                db.execute(
                    f"UPDATE incidents SET status = {keep_closed}, updated_at = ? WHERE id = ?",
                    (status, _now(), incident_id),
                )
            else:
                db.execute(
                    f"UPDATE incidents SET status = {keep_closed}, outcome = ?, updated_at = ? WHERE id = ?",
                    (status, json.dumps(outcome, default=str), _now(), incident_id),
                )

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        with self._tx() as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return _incident_dict(row) if row else None

    def incidents(self, limit: int = 100, open_only: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM incidents" + (" WHERE closed_at IS NULL" if open_only else "")
        with self._tx() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(sql + " ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()
        return [_incident_dict(r) for r in rows]

    def work_items(self, incident_id: str) -> list[dict[str, Any]]:
        with self._tx() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM work WHERE incident_id = ? ORDER BY id", (incident_id,)
            ).fetchall()
        return [dict(r) for r in rows]


def _incident_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["common_labels"] = json.loads(d["common_labels"])
    d["alerts"] = list(json.loads(d["alerts"]).values())
    d["outcome"] = json.loads(d["outcome"]) if d.get("outcome") else None
    return d
