"""Both storage backends for the contract tests: each test taking ``backend`` runs once on SQLite
files and once on a real PostgreSQL (started once per test session and worker, a fresh database per
test). Their modules are marked ``postgres``; CI runs them, and without the server binaries they fail
with what to run instead of being skipped.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes.postgres_server import PostgresServer, running_postgres

from agent.settings import Settings
from agent.storage import db as storage_db
from agent.storage.db import Database


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    root = Path(
        tempfile.mkdtemp(prefix="devops-agent-pg-")
    )  # not under pytest's 0700 root: postgres reads it
    try:
        with running_postgres(root) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Backend:
    """Where one test's stores live; :meth:`open` gives a new handle on the same data (another
    worker's connection), :attr:`env` the settings a subprocess needs to reach it."""

    name: str
    data_dir: Path
    url: str | None = None

    def open(self, sqlite_name: str) -> Database:
        if self.url:
            return storage_db.postgres(self.url)
        return storage_db.sqlite(self.data_dir / sqlite_name)

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, database_url=self.url)  # type: ignore[call-arg, arg-type]

    @property
    def where(self) -> str:
        """What a worker process opens (``fakes.store_workers``): the URL, else the data dir."""
        return self.url or str(self.data_dir)

    @property
    def env(self) -> dict[str, str]:
        env = {"DEVOPS_AGENT_DATA_DIR": str(self.data_dir)}
        if self.url:
            env["DEVOPS_AGENT_DATABASE_URL"] = self.url
        return env


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", tmp_path)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    yield Backend("postgres", tmp_path, server.database())
    storage_db.close_pools()
