"""What a second worker process does in the storage contract tests (run with multiprocessing's
spawn context, so each is a fresh interpreter with its own connections)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.storage import db as storage_db
from agent.storage.db import Database


def _open(where: str, sqlite_name: str) -> Database:
    if where.startswith("postgresql://"):
        return storage_db.postgres(where)
    return storage_db.sqlite(Path(where) / sqlite_name)


def claim_all(where: str, start: Any, out: Any) -> None:
    """Claim items until the queue is empty; put the claimed ids on ``out``."""
    from agent.server.queue import WorkQueue

    queue = WorkQueue(_open(where, "serve.sqlite"), lease_s=120)
    start.wait(30)
    got = []
    while (item := queue.claim()) is not None:
        got.append(item.id)
        queue.finish(item)
    out.put(got)


def claim_and_exit(where: str) -> None:
    """Claim one item and die holding its lease (no finish)."""
    from agent.server.queue import WorkQueue

    WorkQueue(_open(where, "serve.sqlite"), lease_s=600).claim()


def append_audit(where: str, start: Any, n: int, actor: str) -> None:
    from agent.audit import AuditLog

    log = AuditLog(_open(where, "audit.sqlite"))
    start.wait(30)
    for i in range(n):
        log.append("tool_call", incident_id="inc-race", actor=actor, data={"i": i})


def claim_execution(where: str, approval_id: str, start: Any, out: Any) -> None:
    from agent.approvals import ApprovalStore

    store = ApprovalStore(_open(where, "approvals.sqlite"))
    start.wait(30)
    out.put(store.claim_execution(approval_id))
