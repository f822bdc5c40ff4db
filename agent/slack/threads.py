"""Where each incident, conversation and approval lives in Slack (channel, ts), kept across restarts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (incident_id TEXT PRIMARY KEY, channel TEXT, ts TEXT, status_ts TEXT, lines TEXT);
CREATE TABLE IF NOT EXISTS conversations (channel TEXT, thread_ts TEXT, thread_id TEXT, PRIMARY KEY (channel, thread_ts));
CREATE TABLE IF NOT EXISTS approvals (approval_id TEXT PRIMARY KEY, channel TEXT, ts TEXT, thread_ts TEXT);
"""


class ThreadStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            yield db
            db.commit()
        finally:
            db.close()

    def save_incident(self, incident_id: str, channel: str, ts: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO incidents VALUES (?, ?, ?, NULL, '[]')", (incident_id, channel, ts)
            )

    def incident(self, incident_id: str) -> tuple[str, str, str | None, list[str]] | None:
        with self._db() as db:
            row = db.execute(
                "SELECT channel, ts, status_ts, lines FROM incidents WHERE incident_id = ?", (incident_id,)
            ).fetchone()
        return (row[0], row[1], row[2], json.loads(row[3])) if row else None

    def save_progress(self, incident_id: str, status_ts: str | None, lines: list[str]) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE incidents SET status_ts = ?, lines = ? WHERE incident_id = ?",
                (status_ts, json.dumps(lines), incident_id),
            )

    def save_conversation(self, channel: str, thread_ts: str, thread_id: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO conversations VALUES (?, ?, ?)", (channel, thread_ts, thread_id)
            )

    def conversation(self, channel: str, thread_ts: str) -> str | None:
        with self._db() as db:
            row = db.execute(
                "SELECT thread_id FROM conversations WHERE channel = ? AND thread_ts = ?",
                (channel, thread_ts),
            ).fetchone()
        return str(row[0]) if row else None

    def save_approval(self, approval_id: str, channel: str, ts: str, thread_ts: str | None) -> None:
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?)", (approval_id, channel, ts, thread_ts)
            )

    def approval_message(self, approval_id: str) -> tuple[str, str] | None:
        with self._db() as db:
            row = db.execute(
                "SELECT channel, ts FROM approvals WHERE approval_id = ?", (approval_id,)
            ).fetchone()
        return (row[0], row[1]) if row else None
