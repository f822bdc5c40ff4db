"""Where the durable stores live: SQLite files in the data dir (the embedded default), or one
PostgreSQL database that several workers share when ``DEVOPS_AGENT_DATABASE_URL`` is a
``postgresql://`` URL.

Each store (work queue, approvals, audit log, checkpoints) has one small interface
(:mod:`agent.storage.interfaces`) and one implementation that speaks both engines through
:class:`agent.storage.db.Database`; what differs per engine (DDL, claiming with
``FOR UPDATE SKIP LOCKED``, serializable appends) is chosen by ``Database.dialect``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.settings import Settings
from agent.storage import db
from agent.storage.db import Database

if TYPE_CHECKING:
    from agent.storage.checkpoints import Checkpointer


def database(settings: Settings, sqlite_name: str) -> Database:
    """The database a store uses: the shared Postgres one, else ``DATA_DIR/<sqlite_name>``."""
    url = settings.database_url_value
    if url:
        return db.postgres(url)
    return db.sqlite(settings.path(sqlite_name))


def checkpointer(settings: Settings) -> Checkpointer:
    """The graph's checkpointer: Postgres when configured, else ``DATA_DIR/checkpoints.sqlite``."""
    from agent.storage.checkpoints import postgres_checkpointer, sqlite_checkpointer

    url = settings.database_url_value
    if url:
        return postgres_checkpointer(url)
    return sqlite_checkpointer(settings.path("checkpoints.sqlite"))
