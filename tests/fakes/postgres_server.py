"""A real PostgreSQL server for the storage contract tests: Debian's binaries, a throw-away cluster in
a temp dir, listening on a free loopback port, one fresh database per test.

Postgres refuses to run as root, so as root the cluster is made and run by the ``postgres`` user
the Debian package creates (``runuser``). Missing binaries fail the test with what to run: the
contract tests are never skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

SETUP_HINT = "run scripts/setup.sh (it installs Debian's postgresql package)"


def postgres_bindir() -> Path:
    """The directory holding initdb and pg_ctl (the newest Debian version, else PATH)."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    pytest.fail(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {SETUP_HINT}", pytrace=False)


def _free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser") is None:
        pytest.fail("running as root needs runuser to start PostgreSQL as the postgres user", pytrace=False)
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail(f"no postgres user to run the test server as; {SETUP_HINT}", pytrace=False)
    return ["runuser", "-u", "postgres", "--", *cmd]


class PostgresServer:
    """One running cluster; :meth:`database` makes a fresh, empty database on it."""

    def __init__(self, root: Path) -> None:
        self.bindir = postgres_bindir()
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self.user = "devops"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            [str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8"]
        )
        opts = f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {self.root} -c fsync=off"
        opts += " -c max_connections=200 -c full_page_writes=off -c synchronous_commit=off"
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                opts,
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                "30",
                "start",
            ]
        )

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=30,
            check=False,
        )

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(_as_postgres(cmd), capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            pytest.fail(
                f"{Path(cmd[0]).name} failed ({done.returncode}): {done.stderr.strip()}\n{tail}",
                pytrace=False,
            )

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextmanager
def running_postgres(root: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
