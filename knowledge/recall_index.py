"""A side index of what recall boosts on, so the hybrid score's metadata part needs no Chroma filter.

Chroma answers a nearest-neighbour query at 100k incidents in ~2 ms, but a metadata-filtered one
(``where={"$or": [...]}``) in ~100 ms: the filter scans its SQLite metadata. Recall only needs five
small fields per incident (service, namespace, alert name, fault class, start time) to bound what an
incident outside the nearest neighbours could score, so they are kept here too: a SQLite table next
to Chroma's files (``DATA_DIR/memory/recall-index.sqlite3``) and, while a memory is open, numpy
columns of it (a few MB at 100k incidents).

The memory writes here after every Chroma write. Another process writing the same memory is noticed
through SQLite's ``PRAGMA data_version`` and the columns are reloaded. The index remembers which
Chroma collection and how many incidents it mirrors; :meth:`RecallIndex.matches` lets the memory
rebuild it when they differ (a memory from before the index, a crash between the two writes).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

FIELDS = ("service", "namespace", "alertname", "fault_class")
FILE_NAME = "recall-index.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, service TEXT, namespace TEXT, alertname TEXT, fault_class TEXT,
    started_ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS mirror (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

Row = tuple[str, str | None, str | None, str | None, str | None, float]
"""id, service, namespace, alertname, fault_class, started_ts (seconds since the epoch, UTC)."""


@dataclass
class Columns:
    """The index as numpy columns; ``codes[field][i]`` is the code of row i's value (-1 = none)."""

    ids: list[str]
    position: dict[str, int]
    codes: dict[str, npt.NDArray[np.int32]]
    vocab: dict[str, dict[str, int]]
    started_ts: npt.NDArray[np.float64]
    alive: npt.NDArray[np.bool_]

    @classmethod
    def build(cls, rows: Sequence[Row]) -> Columns:
        vocab: dict[str, dict[str, int]] = {f: {} for f in FIELDS}
        codes = {
            f: np.fromiter((_code(vocab[f], _field(r, j)) for r in rows), np.int32, len(rows))
            for j, f in enumerate(FIELDS)
        }
        return cls(
            ids=[r[0] for r in rows],
            position={r[0]: i for i, r in enumerate(rows)},
            codes=codes,
            vocab=vocab,
            started_ts=np.fromiter((r[5] for r in rows), np.float64, len(rows)),
            alive=np.ones(len(rows), np.bool_),
        )

    def apply(self, rows: Sequence[Row]) -> Columns:
        """These columns with this process's own writes: known ids overwritten, new ones appended.

        A new object (copy on write): a recall running in another thread keeps a consistent view.
        """
        ids, position = list(self.ids), dict(self.position)
        for r in rows:
            if r[0] not in position:
                position[r[0]] = len(ids)
                ids.append(r[0])
        grow = len(ids) - len(self.ids)
        vocab = {f: dict(v) for f, v in self.vocab.items()}
        codes = {f: np.concatenate([c, np.full(grow, -1, np.int32)]) for f, c in self.codes.items()}
        started_ts = np.concatenate([self.started_ts, np.zeros(grow)])
        alive = np.concatenate([self.alive, np.ones(grow, np.bool_)])
        for r in rows:
            i = position[r[0]]
            for j, f in enumerate(FIELDS):
                codes[f][i] = _code(vocab[f], _field(r, j))
            started_ts[i] = r[5]
            alive[i] = True
        return Columns(ids, position, codes, vocab, started_ts, alive)

    def remove(self, ids: Iterable[str]) -> Columns:
        """These columns without these ids (a new object, like :meth:`apply`)."""
        alive = self.alive.copy()
        for i in ids:
            if i in self.position:
                alive[self.position[i]] = False
        return Columns(self.ids, self.position, self.codes, self.vocab, self.started_ts, alive)

    def matching(self, field: str, value: str) -> npt.NDArray[np.bool_]:
        """Rows whose ``field`` equals ``value`` (all False for a value no row has)."""
        code = self.vocab[field].get(value)
        if code is None:
            return np.zeros(len(self.ids), np.bool_)
        matched: npt.NDArray[np.bool_] = self.codes[field] == code
        return matched


def _field(row: Row, j: int) -> str | None:
    value = row[1 + j]
    return value if isinstance(value, str) else None


def _code(vocab: dict[str, int], value: str | None) -> int:
    if not value:
        return -1
    return vocab.setdefault(value, len(vocab))


class RecallIndex:
    """The SQLite side table and its in-memory columns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        self._columns: Columns | None = None
        self._version = -1
        self._lock = threading.RLock()  # one connection, shared by the agent's threads

    def close(self) -> None:
        self._db.close()

    # --- writes ------------------------------------------------------------------------------
    def upsert(self, rows: Sequence[Row], *, mirrors: str | None = None) -> None:
        """Store rows (replacing ids already there); ``mirrors`` names the collection mirrored."""
        with self._lock:
            with self._write() as fresh:
                self._db.executemany("INSERT OR REPLACE INTO incidents VALUES (?, ?, ?, ?, ?, ?)", rows)
                if mirrors is not None:
                    self._db.execute("INSERT OR REPLACE INTO mirror VALUES ('collection', ?)", (mirrors,))
            if fresh and self._columns is not None:
                self._columns = self._columns.apply(rows)

    def delete(self, ids: Sequence[str]) -> None:
        with self._lock:
            with self._write() as fresh:
                self._db.executemany("DELETE FROM incidents WHERE id = ?", [(i,) for i in ids])
            if fresh and self._columns is not None:
                self._columns = self._columns.remove(ids)

    def replace_all(self, rows: Sequence[Row], mirrors: str) -> None:
        """Make the index hold exactly these rows, mirroring collection ``mirrors`` (one transaction)."""
        with self._write():
            self._db.execute("DELETE FROM incidents")
            self._db.executemany("INSERT OR REPLACE INTO incidents VALUES (?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("INSERT OR REPLACE INTO mirror VALUES ('collection', ?)", (mirrors,))
            self._columns = None

    @contextmanager
    def _write(self) -> Iterator[bool]:
        """One write transaction; yields whether the columns were current when it began.

        Checked under the write lock, so no other process can commit in between. If they were not,
        they are dropped (reloaded on the next read) instead of being patched with this write.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                fresh = self._data_version() == self._version
                if not fresh:
                    self._columns = None
                yield fresh
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- reads -------------------------------------------------------------------------------
    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM incidents").fetchone()[0])

    def mirrored_collection(self) -> str | None:
        row = self._db.execute("SELECT value FROM mirror WHERE key = 'collection'").fetchone()
        return str(row[0]) if row else None

    def matches(self, collection_id: str, collection_count: int) -> bool:
        """Does the index mirror this collection, with as many incidents as it holds?"""
        return self.mirrored_collection() == collection_id and self.count() == collection_count

    def columns(self) -> Columns:
        """The current columns; reloaded when another process wrote since the last read."""
        with self._lock:
            version = self._data_version()
            if self._columns is None or version != self._version:
                rows = self._db.execute(
                    "SELECT id, service, namespace, alertname, fault_class, started_ts FROM incidents"
                ).fetchall()
                self._columns = Columns.build(rows)
                self._version = version
            return self._columns

    def _data_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])
