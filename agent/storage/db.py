"""One database handle for every store: a SQLite file, or a PostgreSQL database shared by workers.

Stores write their SQL once, with ``?`` placeholders, and open transactions through
:meth:`Database.tx`. The handle translates placeholders for psycopg and maps the three kinds of
transaction the stores need onto each engine:

- ``tx()``: a plain transaction (SQLite deferred, Postgres READ COMMITTED);
- ``tx(lock=NAME)``: writers of the same name run one at a time (SQLite ``BEGIN IMMEDIATE``, which
  serializes every writer of the file; Postgres a transaction-scoped advisory lock on NAME);
- ``tx(snapshot=True)``: reads that all see one moment;
- ``tx(serializable=True)``: SERIALIZABLE (SQLite is always serializable); :meth:`Database.retrying`
  runs a function in such transactions again when Postgres reports a serialization failure.

SQLite opens a connection per transaction, as the stores did before; Postgres takes one from a
pool (``psycopg_pool``) shared by all stores of the process.
"""

from __future__ import annotations

import contextlib
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

Dialect = Literal["sqlite", "postgres"]
T = TypeVar("T")

SERIALIZABLE_RETRIES = 20
"""How often a serializable transaction is tried before its conflict is reported."""


class DatabaseError(RuntimeError):
    """The database cannot be used; the message says which, why and what to do."""


class Cursor(Protocol):
    """What both drivers' cursors offer and the stores use."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


def redact_url(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _pg_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the stores' SQL has no literal ``?`` or ``%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class Tx:
    """One open transaction."""

    def __init__(self, conn: Any, dialect: Dialect) -> None:
        self._conn = conn
        self.dialect: Dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if self.dialect == "postgres":
            cur: Cursor = (
                self._conn.execute(_pg_sql(sql), tuple(params)) if params else self._conn.execute(sql)
            )
            return cur
        return self._conn.execute(sql, tuple(params))  # type: ignore[no-any-return]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.execute(sql, params).fetchall()

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as column → value, the same on both engines."""
        cur = self.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


class Database:
    """A SQLite file or a Postgres database; create it with :func:`sqlite` or :func:`postgres`."""

    def __init__(self, dialect: Dialect, target: str, pool: Any = None) -> None:
        self.dialect: Dialect = dialect
        self.target = target
        self._pool = pool

    @property
    def file(self) -> Path | None:
        """The SQLite file, or None on Postgres."""
        return Path(self.target) if self.dialect == "sqlite" else None

    def __repr__(self) -> str:
        shown = redact_url(self.target) if self.dialect == "postgres" else self.target
        return f"Database({self.dialect}, {shown})"

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self.dialect == "postgres":
            with self._pool.connection() as conn:
                yield conn
            return
        conn = sqlite3.connect(self.target, timeout=30, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def tx(
        self, *, lock: str | None = None, serializable: bool = False, snapshot: bool = False
    ) -> Iterator[Tx]:
        """A transaction: committed when the block ends, rolled back when it raises. ``snapshot``:
        every read sees the same moment (Postgres REPEATABLE READ; a SQLite read transaction does)."""
        with self._connection() as conn:
            if self.dialect == "sqlite":
                conn.execute("BEGIN IMMEDIATE" if lock or serializable else "BEGIN")
            else:
                level = (
                    "SERIALIZABLE" if serializable else "REPEATABLE READ" if snapshot else "READ COMMITTED"
                )
                conn.execute(f"BEGIN ISOLATION LEVEL {level}")
                if lock:
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock,))
            try:
                yield Tx(conn, self.dialect)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):  # a lost connection: report the first error
                    conn.execute("ROLLBACK")
                raise

    def retrying(self, fn: Callable[[Tx], T], *, attempts: int = SERIALIZABLE_RETRIES) -> T:
        """Run ``fn`` in a SERIALIZABLE transaction; again (after a short random wait) while Postgres
        says it conflicted with a concurrent one."""
        for attempt in range(1, attempts + 1):
            try:
                with self.tx(serializable=True) as tx:
                    return fn(tx)
            except Exception as exc:
                if not is_conflict(exc) or attempt == attempts:
                    raise
                time.sleep(random.uniform(0, 0.005 * attempt))
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


def is_conflict(exc: BaseException) -> bool:
    """A concurrent transaction won (serialization failure, deadlock, or a key it inserted first)."""
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate in ("40001", "40P01", "23505")


def sqlite(path: Path) -> Database:
    """The SQLite file at ``path`` (its directory is created; WAL, so readers never wait)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    return Database("sqlite", str(path))


_POOLS: dict[str, Database] = {}
_POOLS_LOCK = threading.Lock()


def postgres(url: str, *, max_size: int = 10) -> Database:
    """The Postgres database at ``url``, one connection pool per URL and process."""
    with _POOLS_LOCK:
        found = _POOLS.get(url)
        if found is not None:
            return found
        db = Database("postgres", url, _open_pool(url, max_size))
        _POOLS[url] = db
        return db


def _open_pool(url: str, max_size: int) -> Any:
    try:
        from psycopg_pool import ConnectionPool
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise DatabaseError(
            "DEVOPS_AGENT_DATABASE_URL selects Postgres but psycopg is not installed; "
            "run `pip install 'psycopg[binary,pool]'` (scripts/setup.sh installs it)"
        ) from exc
    probe(url)
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, "prepare_threshold": None},
        open=False,
        name="devops-agent",
    )
    try:
        pool.open(wait=True, timeout=10)
    except Exception as exc:
        pool.close()
        raise DatabaseError(
            f"cannot connect to Postgres at {redact_url(url)} (DEVOPS_AGENT_DATABASE_URL): {exc}. "
            "Check that the server runs and accepts this user, or unset the setting to use SQLite files."
        ) from None
    return pool


def probe(url: str, *, timeout_s: int = 5) -> None:
    """Connect once, so a wrong URL or a stopped server is reported at once with the server's own
    reason (a pool would keep retrying until its timeout)."""
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=timeout_s).close()
    except psycopg.Error as exc:
        raise DatabaseError(
            f"cannot connect to Postgres at {redact_url(url)} (DEVOPS_AGENT_DATABASE_URL): "
            f"{' '.join(str(exc).split())} Check that the server runs and accepts this user, or unset the "
            "setting to use SQLite files."
        ) from None


def close_pools() -> None:
    """Close every Postgres pool of this process (tests, shutdown)."""
    with _POOLS_LOCK:
        for db in _POOLS.values():
            db.close()
        _POOLS.clear()
