"""The audit chain's head, anchored outside its database.

The hash chain catches an edited row, and the head record a removed tail; but whoever can write the
SQLite file can rebuild rows, chain, head and triggers together, and ``audit verify`` then passes.
An anchor is a line written somewhere else — an append-only JSON-lines file (ship it off the host,
or point ``DEVOPS_AGENT_AUDIT_ANCHOR_FILE`` at a mount the agent cannot rewrite), plus a log line and
a ``/metrics`` gauge — saying "at this time the chain had N rows and row N hashed to H". A rebuilt
chain cannot match hashes published before it was rebuilt::

    publish_head(audit, path)              # serve does this every audit_anchor_interval_s
    verify_against(audit, path).problem    # "row 12 ... was rewritten": names where
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.audit import AuditLog, VerifyReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Anchor:
    """One published head: the chain had ``rows`` rows and row ``rows`` hashed to ``hash``."""

    ts: str
    rows: int
    hash: str

    def line(self) -> str:
        return json.dumps({"ts": self.ts, "rows": self.rows, "hash": self.hash}, sort_keys=True)


class AnchorError(ValueError):
    """The anchor file cannot be read; the message names the file and the line."""


def read_anchors(path: Path) -> list[Anchor]:
    """Every anchor of an export file, in order."""
    if not path.exists():
        raise AnchorError(f"no anchor file at {path}: publish one first (serve does, or `audit anchor`)")
    out = []
    for n, raw in enumerate(path.read_text().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
            out.append(Anchor(ts=str(obj["ts"]), rows=int(obj["rows"]), hash=str(obj["hash"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorError(f"{path} line {n} is not an anchor ({exc}): {raw[:120]!r}") from None
    return out


def publish_head(audit: AuditLog, path: Path, *, force: bool = False) -> Anchor | None:
    """Append the current head to ``path`` (and log it) unless it is the last one published."""
    rows, digest = audit.head()
    if rows == 0 and not force:
        return None
    if not force and path.exists():
        lines = [raw for raw in path.read_text().splitlines() if raw.strip()]
        if lines:
            try:
                last = json.loads(lines[-1])
                if int(last.get("rows", -1)) == rows and last.get("hash") == digest:
                    return None
            except ValueError:
                pass  # a damaged last line: publish again, verify will name the damage
    anchor = Anchor(ts=datetime.now(UTC).isoformat(timespec="seconds"), rows=rows, hash=digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(anchor.line() + "\n")
    log.info("audit head: rows=%d hash=%s (anchored in %s)", rows, digest, path)
    return anchor


def verify_against(audit: AuditLog, path: Path) -> VerifyReport:
    """The chain verified, then every published anchor checked against it; names the first mismatch."""
    chain = audit.verify()
    if not chain.ok:
        return chain
    anchors = read_anchors(path)
    good = 0  # rows up to here match an anchor
    for a in anchors:
        found = audit.hash_of(a.rows) if a.rows else None
        if a.rows and found is None:
            return VerifyReport(
                ok=False,
                rows_checked=chain.rows_checked,
                first_bad_id=chain.rows_checked + 1,
                problem=f"the anchor of {a.ts} says the log had {a.rows} rows; it has {chain.rows_checked}: "
                "rows were removed and the chain rebuilt",
            )
        if a.rows and found != a.hash:
            return VerifyReport(
                ok=False,
                rows_checked=chain.rows_checked,
                first_bad_id=good + 1,
                problem=f"row {a.rows} does not hash to what the anchor of {a.ts} published "
                f"({found} != {a.hash}): the chain was rewritten at a row between {good + 1} and {a.rows}",
            )
        good = max(good, a.rows)
    return VerifyReport(ok=True, rows_checked=chain.rows_checked)


class AnchorPublisher:
    """Publishes the head every ``interval_s`` in a daemon thread (serve); ``on_publish`` sees each."""

    def __init__(
        self,
        audit: AuditLog,
        path: Path,
        interval_s: float,
        on_publish: Callable[[Anchor], None] | None = None,
    ) -> None:
        self.audit, self.path, self.interval_s = audit, path, interval_s
        self.on_publish = on_publish
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="audit-anchor", daemon=True)

    def start(self) -> None:
        if self.interval_s > 0:
            self.publish()
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
            self.publish()  # the head at shutdown, so the last rows are anchored too

    def publish(self) -> Anchor | None:
        try:
            anchor = publish_head(self.audit, self.path)
        except OSError as exc:
            log.warning("cannot publish the audit head to %s: %s; check the path is writable", self.path, exc)
            return None
        rows, digest = self.audit.head()
        if self.on_publish is not None:
            self.on_publish(anchor or Anchor(ts="", rows=rows, hash=digest))
        return anchor

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.publish()
