"""The numbered schema steps of the work queue and incident index (``agent.storage.migrations``).

Times are ISO-8601 UTC text with milliseconds on both engines, compared as text; lease expiries come
from the workers' clocks, so the machines that share a database need synchronized clocks (NTP).
"""

from __future__ import annotations

from agent.storage.migrations import Step

_INCIDENTS = """CREATE TABLE IF NOT EXISTS incidents (
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
)"""
_WORK_COLUMNS = """
    incident_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    payload TEXT,
    not_before TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)"""
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS incidents_open ON incidents(group_key, closed_at)",
    "CREATE INDEX IF NOT EXISTS work_state ON work(state, id)",
)
_LEASES = (
    "ALTER TABLE work ADD COLUMN lease_owner TEXT",
    "ALTER TABLE work ADD COLUMN lease_expires TEXT",
    # at most one running item per incident, whichever workers race for them
    "CREATE UNIQUE INDEX IF NOT EXISTS work_one_running ON work(incident_id) WHERE state = 'running'",
)

MIGRATIONS = (
    Step(
        1,
        "incidents and work",
        {
            "sqlite": (
                _INCIDENTS,
                "CREATE TABLE IF NOT EXISTS work (id INTEGER PRIMARY KEY AUTOINCREMENT," + _WORK_COLUMNS,
                *_INDEXES,
            ),
            "postgres": (
                _INCIDENTS,
                "CREATE TABLE IF NOT EXISTS work (id BIGSERIAL PRIMARY KEY," + _WORK_COLUMNS,
                *_INDEXES,
            ),
        },
    ),
    Step(2, "leases on claimed work", {"sqlite": _LEASES, "postgres": _LEASES}),
)
