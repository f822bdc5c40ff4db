"""The LangGraph checkpointer on either engine: ``SqliteSaver`` on a file in the data dir, or
``PostgresSaver`` (langgraph-checkpoint-postgres) on the shared database, so a run paused or cut
short in one process is resumed by another (thread id = incident id).

The Postgres saver gets its own small pool with the connection options it requires (autocommit,
rows as dicts, no prepared statements) and creates and migrates its tables with ``setup()``, which
records its own versions in ``checkpoint_migrations``.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from agent.storage.db import DatabaseError, probe, redact_url


class Checkpointer(AbstractContextManager["Checkpointer"]):
    """A saver and what must be closed with it."""

    def __init__(self, saver: BaseCheckpointSaver[Any], closer: Any) -> None:
        self.saver = saver
        self._closer = closer

    def close(self) -> None:
        self._closer.close()

    def __exit__(self, *exc: object) -> None:
        self.close()


def sqlite_checkpointer(path: Path) -> Checkpointer:
    """A SQLite checkpointer another process can read at the same time (WAL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn)
    saver.setup()
    return Checkpointer(saver, conn)


def postgres_checkpointer(url: str, *, max_size: int = 8) -> Checkpointer:
    """A Postgres checkpointer on ``url``; its tables are created or migrated on first use."""
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    probe(url)
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
        name="devops-agent-checkpoints",
    )
    try:
        pool.open(wait=True, timeout=10)
        saver = PostgresSaver(pool)
        saver.setup()
    except Exception as exc:
        pool.close()
        raise DatabaseError(
            f"cannot use Postgres at {redact_url(url)} for checkpoints (DEVOPS_AGENT_DATABASE_URL): {exc}. "
            "Check that the server runs and this user may create tables, or unset the setting to use SQLite."
        ) from None
    return Checkpointer(saver, pool)
