"""The durable work queue and the incident index of `serve`, in one SQLite file or in Postgres.

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

Workers claim under leases: a claimed item names its owner (host/pid/queue) and an expiry the owner
renews (:meth:`WorkQueue.renew`). When a worker dies its lease runs out and any worker takes the
item over. On Postgres, workers claim with ``SELECT ... FOR UPDATE SKIP LOCKED``, so several
processes share one queue without waiting for each other; a unique index allows one running item
per incident. Intake takes an advisory lock (SQLite: the write lock), so one group key opens one
incident however many webhooks race.

Folding: when the first investigation ends without a verified fix (escalated to a human, or the fix
failed), correlated incidents on its failing path are *folded* into it: no run of their own (it
would only repeat the same diagnosis and page again); the parent's report and hand-off list them.
A group that opens later while such a parent is still open is folded at once. Incidents whose
service is off the parent's path are investigated on their own.
"""

from __future__ import annotations

import json
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agent.server.alerts import WebhookPayload
from agent.server.folding import ENDED_UNFIXED, on_path, pick_parent, with_folded
from agent.server.leases import new_owner, worker_gone
from agent.server.queue_schema import MIGRATIONS
from agent.storage import db as storage_db
from agent.storage.db import Database, Tx, is_conflict
from agent.storage.migrations import migrate

if TYPE_CHECKING:
    from agent.storage.interfaces import WorkQueueStore

WorkKind = Literal["investigate", "close", "resume"]


def _note_folded(db: Tx, parent: str, alerts: list[str]) -> None:
    row = db.one("SELECT outcome FROM incidents WHERE id = ?", (parent,))
    outcome = json.loads(row[0]) if row and row[0] else {}
    db.execute(
        "UPDATE incidents SET outcome = ?, updated_at = ? WHERE id = ?",
        (json.dumps(with_folded(outcome, alerts), default=str), _now(), parent),
    )


MAX_ATTEMPTS = 3


def _now(after_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=after_s)).isoformat(timespec="milliseconds")


_INTAKE = "devops-agent-intake"
"""The lock intake and releases take, so two webhooks of one group never open two incidents."""


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
    """The queue on a SQLite file (a path) or any :class:`Database`; ``lease_s`` is how long a claim
    holds without :meth:`renew`."""

    def __init__(
        self,
        where: Path | Database,
        *,
        correlate_window_s: float = 600,
        follow_up_delay_s: float = 45,
        follow_up_settle_s: float = 600,
        lease_s: float = 60,
    ) -> None:
        self.db = where if isinstance(where, Database) else storage_db.sqlite(where)
        self.path = self.db.file
        self.correlate_window_s = correlate_window_s
        self.follow_up_delay_s = follow_up_delay_s
        self.follow_up_settle_s = follow_up_settle_s
        self.lease_s = lease_s
        self.owner = new_owner()
        """Who this queue's claims belong to: host, process, and this queue object."""
        migrate(self.db, "queue", MIGRATIONS)

    def _tx(self, immediate: bool = False) -> AbstractContextManager[Tx]:
        return self.db.tx(lock=_INTAKE if immediate else None)

    # --- intake -------------------------------------------------------------------------------
    def ingest(self, payload: WebhookPayload) -> IngestResult:
        """Fold one webhook call into its incident; queue work when an incident opens or closes."""
        now = _now()
        with self._tx(immediate=True) as db:
            row = db.one(
                "SELECT id, alerts, repeats FROM incidents WHERE group_key = ? AND closed_at IS NULL",
                (payload.groupKey,),
            )
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
            fold = found is not None and found[1] in ENDED_UNFIXED and on_path(service, found[2])
            if found is not None and found[1] == "resolved" and not on_path(service, found[2]):
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
                        # while the fixed incident's own alerts still fire, give the fix time to cure
                        # this one too; once they resolved, look at once (a new fault must not wait)
                        later = None if found is not None and found[3] else _now(self.follow_up_delay_s)
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

    def _parent_for(self, db: Tx, namespace: str | None) -> tuple[str, str, list[str] | None, bool] | None:
        """The incident of the same namespace, opened within the window, that a new group belongs to:
        one still at work first (even if its own alerts resolved meanwhile: its fix is being verified),
        else one that ended, fixed or not, and is still open, else one whose verified fix closed it.
        Returns (id, status, its failing path's objects when known, closed); a closed one reads
        ``resolved``."""
        if self.correlate_window_s <= 0:
            return None
        since = (datetime.now(UTC) - timedelta(seconds=self.correlate_window_s)).isoformat(
            timespec="milliseconds"
        )
        rows = db.all(
            "SELECT id, status, outcome, closed_at FROM incidents WHERE parent_id IS NULL"
            " AND namespace IS NOT DISTINCT FROM ? AND created_at >= ? AND (status IN ('queued', 'investigating',"
            " 'awaiting_approval', 'acting', 'closed') OR (closed_at IS NULL AND status IN ('escalated',"
            " 'mitigation_failed', 'resolved'))) ORDER BY created_at",
            (namespace, since),
        )
        return pick_parent(rows)

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
            rows = db.all(
                "SELECT id, service FROM incidents WHERE parent_id = ? AND closed_at IS NULL"
                " AND status = 'correlated'",
                (parent_id,),
            )
            for child, service in rows:
                if parent_status in ENDED_UNFIXED and on_path(service, path):
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
            row = db.one("SELECT parent_id FROM incidents WHERE id = ?", (child_id,))
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
                not_before=_now(self.follow_up_settle_s),
                payload=json.dumps({"recheck": True}),
            )

    def detach(self, incident_id: str) -> None:
        """A follow-up in which something fails is an incident of its own: it no longer follows its
        parent, and the groups that open while it is investigated correlate to it."""
        with self._tx(immediate=True) as db:
            db.execute(
                "UPDATE incidents SET parent_id = NULL, updated_at = ? WHERE id = ?", (_now(), incident_id)
            )

    def children(self, parent_id: str) -> list[dict[str, Any]]:
        """Incidents correlated with or folded into ``parent_id``: id, alertname, service, status."""
        with self._tx() as db:
            rows = db.all(
                "SELECT id, alertname, service, status FROM incidents WHERE parent_id = ? ORDER BY created_at",
                (parent_id,),
            )
        return [{"id": r[0], "alertname": r[1], "service": r[2], "status": r[3]} for r in rows]

    def enqueue(self, incident_id: str, kind: WorkKind, *, payload: str | None = None) -> None:
        with self._tx(immediate=True) as db:
            self._enqueue(db, incident_id, kind, _now(), payload=payload)

    @staticmethod
    def _enqueue(
        db: Tx,
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
        """Take the oldest due item, or one whose lease ran out, under a lease of ``lease_s``
        (investigations of one incident never run twice at once)."""
        for _ in range(5):
            try:
                return self._claim_once()
            except Exception as exc:  # another worker claimed an item of the same incident first
                if not is_conflict(exc):
                    raise
        return None

    def _claim_once(self) -> WorkItem | None:
        now = _now()
        postgres = self.db.dialect == "postgres"
        pick_one = " ORDER BY id LIMIT 1" + (" FOR UPDATE SKIP LOCKED" if postgres else "")
        with self.db.tx(lock=None if postgres else "work-claim") as db:
            # first an item whose worker stopped renewing its lease, then the oldest due one; two
            # queries, so each is answered from the (state, id) index
            row = db.one(
                "SELECT id, incident_id, kind, attempts, payload FROM work"
                " WHERE state = 'running' AND COALESCE(lease_expires, '') < ?" + pick_one,
                (now,),
            ) or db.one(
                "SELECT id, incident_id, kind, attempts, payload FROM work w WHERE state = 'queued'"
                " AND (not_before IS NULL OR not_before <= ?) AND NOT EXISTS (SELECT 1 FROM work r"
                " WHERE r.state = 'running' AND r.incident_id = w.incident_id)" + pick_one,
                (now,),
            )
            if row is None:
                return None
            db.execute(
                "UPDATE work SET state = 'running', attempts = attempts + 1, lease_owner = ?,"
                " lease_expires = ?, updated_at = ? WHERE id = ?",
                (self.owner, _now(self.lease_s), now, row[0]),
            )
            return WorkItem(
                id=int(row[0]), incident_id=row[1], kind=row[2], attempts=int(row[3]) + 1, payload=row[4]
            )

    def renew(self) -> int:
        """Extend the leases this queue holds by ``lease_s`` (the worker is alive). Returns how many."""
        with self.db.tx() as db:
            cur = db.execute(
                "UPDATE work SET lease_expires = ? WHERE state = 'running' AND lease_owner = ?",
                (_now(self.lease_s), self.owner),
            )
            return int(cur.rowcount)

    def finish(self, item: WorkItem, *, error: str | None = None) -> bool:
        """Mark done, or on error queue again until MAX_ATTEMPTS, then failed. False (and nothing
        changed) when this queue no longer holds the lease: another worker took the item over."""
        with self.db.tx() as db:
            state = "done" if error is None else ("queued" if item.attempts < MAX_ATTEMPTS else "failed")
            cur = db.execute(
                "UPDATE work SET state = ?, error = ?, lease_owner = NULL, lease_expires = NULL,"
                " updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?",
                (state, error, _now(), item.id, self.owner),
            )
            return int(cur.rowcount) == 1

    def recover(self) -> int:
        """On start: running work whose worker is gone goes back to the queue at once (its lease ran
        out, or it was held by a process of this host that is no longer alive, or by an earlier queue
        of this process). Work that live workers elsewhere hold is left alone. Returns how many."""
        now = _now()
        with self.db.tx(lock=_INTAKE) as db:
            rows = db.all("SELECT id, lease_owner, lease_expires FROM work WHERE state = 'running'")
            gone = [r[0] for r in rows if worker_gone(r[1], r[2], now, self.owner)]
            for item_id in gone:
                db.execute(
                    "UPDATE work SET state = 'queued', lease_owner = NULL, lease_expires = NULL,"
                    " updated_at = ? WHERE id = ? AND state = 'running'",
                    (now, item_id),
                )
            return len(gone)

    def open_count(self) -> int:
        """Incidents Alertmanager has not closed yet."""
        with self._tx() as db:
            return int(db.one("SELECT COUNT(*) FROM incidents WHERE closed_at IS NULL")[0])

    def depth(self) -> int:
        with self._tx() as db:
            return int(db.one("SELECT COUNT(*) FROM work WHERE state IN ('queued', 'running')")[0])

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
            rows = db.dicts("SELECT * FROM incidents WHERE id = ?", (incident_id,))
        return _incident_dict(rows[0]) if rows else None

    def incidents(self, limit: int = 100, open_only: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM incidents" + (" WHERE closed_at IS NULL" if open_only else "")
        with self._tx() as db:
            rows = db.dicts(sql + " ORDER BY created_at DESC LIMIT ?", (limit,))
        return [_incident_dict(r) for r in rows]

    def work_items(self, incident_id: str) -> list[dict[str, Any]]:
        with self._tx() as db:
            return db.dicts("SELECT * FROM work WHERE incident_id = ? ORDER BY id", (incident_id,))


def _incident_dict(row: dict[str, Any]) -> dict[str, Any]:
    d = dict(row)
    d["common_labels"] = json.loads(d["common_labels"])
    d["alerts"] = list(json.loads(d["alerts"]).values())
    d["outcome"] = json.loads(d["outcome"]) if d.get("outcome") else None
    return d


if TYPE_CHECKING:  # the class keeps the interface the agent relies on
    _queue_store: type[WorkQueueStore] = WorkQueue
