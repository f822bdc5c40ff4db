"""Approval requests and decisions, indexed in SQLite or Postgres so any process can list and
decide them.

The pause itself is a LangGraph ``interrupt()`` kept by the checkpointer; this store is the index the
CLI, Slack and the HTTP API read, and the place a decision is claimed exactly once: ``decide`` flips
``pending`` to ``approved``/``rejected`` in one conditional UPDATE, so a double click or two racing
processes cannot both win (on Postgres the second UPDATE waits for the first to commit, then finds
the row no longer pending). ``claim_execution`` is one INSERT on a primary key, won by one caller.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, Field

from agent import storage
from agent.settings import Settings
from agent.storage import db as storage_db
from agent.storage.db import Database
from agent.storage.migrations import Step, migrate
from tools.base import Target, Undo

if TYPE_CHECKING:
    from agent.storage.interfaces import ApprovalsStore

ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]

DETACHED_PREFIX = "mcp-"
"""Incident ids of requests made outside a graph run (the MCP server): no paused run waits for them."""
POSTURE_PREFIX = "posture-"
"""Incident ids of the fixes ``devops-agent posture --fix`` proposed; also detached."""


class ApprovalError(Exception):
    """A decision that cannot be applied (unknown id, expired, already decided, approver not allowed)."""


def _now() -> datetime:
    return datetime.now(UTC)


class ApprovalRequest(BaseModel):
    """What a human is asked to decide."""

    id: str = Field(default_factory=lambda: "apr-" + uuid.uuid4().hex[:10])
    incident_id: str
    tool: str
    args: dict[str, Any]
    target: Target
    risk: str
    reason: str = ""
    diff: str = ""
    expected_effect: str = ""
    undo: Undo | None = None
    guard_reasons: list[str] = Field(default_factory=list)
    requested_at: datetime = Field(default_factory=_now)
    expires_at: datetime
    status: ApprovalStatus = "pending"
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None

    @classmethod
    def create(cls, *, ttl_s: int, **kw: Any) -> ApprovalRequest:
        now = _now()
        return cls(requested_at=now, expires_at=now + timedelta(seconds=ttl_s), **kw)

    def is_expired(self, now: datetime | None = None) -> bool:
        return (now or _now()) >= self.expires_at

    @property
    def detached(self) -> bool:
        """True when no graph run waits for this request: it was made over MCP, whose client applies
        it once approved (``agent.mcp_calls``), or by ``posture --fix``, applied with ``posture --apply``."""
        return self.incident_id.startswith((DETACHED_PREFIX, POSTURE_PREFIX))

    def summary(self) -> str:
        t = self.target
        where = f"{t.kind} {t.namespace + '/' if t.namespace else ''}{t.name}"
        return f"{self.tool} on {where} ({self.risk}): {self.reason}"


class ApprovalDecision(BaseModel):
    """A human's answer, carried into ``Command(resume=...)``."""

    approval_id: str
    decision: Literal["approve", "reject"]
    approver: str
    reason: str | None = None
    edited_args: dict[str, Any] | None = None
    decided_at: datetime = Field(default_factory=_now)


_TABLES = (
    "CREATE TABLE IF NOT EXISTS approvals (id TEXT PRIMARY KEY, incident_id TEXT NOT NULL,"
    " status TEXT NOT NULL, request TEXT NOT NULL, expires_at TEXT NOT NULL, requested_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS executions (id TEXT PRIMARY KEY, claimed_at TEXT NOT NULL)",
)
_INDEX = ("CREATE INDEX IF NOT EXISTS approvals_status ON approvals(status, requested_at)",)
MIGRATIONS = (
    Step(1, "approvals and executions", {"sqlite": _TABLES, "postgres": _TABLES}),
    Step(2, "index by status", {"sqlite": _INDEX, "postgres": _INDEX}),
)


class ApprovalStore:
    """The approvals index on a SQLite file (a path) or any :class:`Database`."""

    def __init__(self, where: Path | Database) -> None:
        self.db = where if isinstance(where, Database) else storage_db.sqlite(where)
        self.path = self.db.file
        migrate(self.db, "approvals", MIGRATIONS)

    @classmethod
    def open(cls, settings: Settings) -> ApprovalStore:
        """The store these settings name: Postgres when configured, else ``DATA_DIR/approvals.sqlite``."""
        return cls(storage.database(settings, "approvals.sqlite"))

    def add(self, req: ApprovalRequest) -> ApprovalRequest:
        """Index a request; adding the same id again (a node re-run on resume) changes nothing."""
        with self.db.tx() as db:
            db.execute(
                "INSERT INTO approvals (id, incident_id, status, request, expires_at, requested_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (
                    req.id,
                    req.incident_id,
                    req.status,
                    req.model_dump_json(),
                    req.expires_at.isoformat(),
                    req.requested_at.isoformat(),
                ),
            )
        return self.get(req.id)

    def get(self, approval_id: str) -> ApprovalRequest:
        with self.db.tx() as db:
            row = db.one("SELECT request FROM approvals WHERE id = ?", (approval_id,))
        if row is None:
            raise ApprovalError(
                f"no approval request with id {approval_id!r}; list them with `devops-agent approvals list`"
            )
        return ApprovalRequest.model_validate_json(row[0])

    def list(
        self, status: ApprovalStatus | None = None, incident_id: str | None = None
    ) -> builtins.list[ApprovalRequest]:
        self.expire_due()
        sql = "SELECT request FROM approvals"
        params: builtins.list[str] = []
        where = []
        if status:
            where.append("status = ?")
            params.append(status)
        if incident_id:
            where.append("incident_id = ?")
            params.append(incident_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.db.tx() as db:
            rows = db.all(sql + " ORDER BY requested_at", params)
        return [ApprovalRequest.model_validate_json(r[0]) for r in rows]

    def expire_due(self, now: datetime | None = None) -> builtins.list[str]:
        """Mark pending requests past their expiry as expired; returns their ids."""
        now = now or _now()
        expired = []
        with self.db.tx() as db:
            rows = db.all("SELECT id, request FROM approvals WHERE status = 'pending'")
            for rid, raw in rows:
                req = ApprovalRequest.model_validate_json(raw)
                if req.is_expired(now):
                    req.status = "expired"
                    db.execute(
                        "UPDATE approvals SET status = 'expired', request = ? WHERE id = ? AND status = 'pending'",
                        (req.model_dump_json(), rid),
                    )
                    expired.append(rid)
        return expired

    def decide(self, decision: ApprovalDecision, *, approvers: Sequence[str] = ()) -> ApprovalRequest:
        """Claim the decision exactly once. Raises ApprovalError when it cannot apply."""
        req = self.get(decision.approval_id)
        if approvers and decision.approver not in approvers:
            raise ApprovalError(
                f"{decision.approver} is not on the approver allow-list; ask one of: {', '.join(approvers)}"
            )
        if req.status == "pending" and req.is_expired(decision.decided_at):
            self.expire_due(decision.decided_at)
            raise ApprovalError(
                f"approval {req.id} expired at {req.expires_at:%Y-%m-%d %H:%M:%S} UTC; the action was not run. "
                "Re-run the investigation to get a fresh request."
            )
        if req.status != "pending":
            who = f" by {req.decided_by}" if req.decided_by else ""
            raise ApprovalError(f"approval {req.id} is already {req.status}{who}; nothing changed")
        req.status = "approved" if decision.decision == "approve" else "rejected"
        req.decided_by = decision.approver
        req.decided_at = decision.decided_at
        req.decision_reason = decision.reason
        with self.db.tx() as db:
            cur = db.execute(
                "UPDATE approvals SET status = ?, request = ? WHERE id = ? AND status = 'pending'",
                (req.status, req.model_dump_json(), req.id),
            )
        if cur.rowcount != 1:
            raise ApprovalError(
                f"approval {req.id} was decided by someone else a moment ago; nothing changed"
            )
        return req

    def claim_execution(self, approval_id: str) -> bool:
        """Claim the one execution of an approved request made outside a graph run (MCP): True for
        the first caller, False for every later one, across processes. A claim is never released: an
        apply that failed half-way needs a fresh request, not a second try on the old approval."""
        with self.db.tx() as db:
            cur = db.execute(
                "INSERT INTO executions (id, claimed_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                (approval_id, _now().isoformat()),
            )
        return cur.rowcount == 1

    def reopen(self, approval_id: str) -> None:
        """Put a claimed decision back to pending (the resume failed before the graph saw it)."""
        req = self.get(approval_id)
        req.status, req.decided_by, req.decided_at, req.decision_reason = "pending", None, None, None
        with self.db.tx() as db:
            db.execute(
                "UPDATE approvals SET status = 'pending', request = ? WHERE id = ?",
                (req.model_dump_json(), req.id),
            )

    @staticmethod
    def to_json(req: ApprovalRequest) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(req.model_dump_json()))


if TYPE_CHECKING:  # the class keeps the interface the agent relies on
    _approvals_store: type[ApprovalsStore] = ApprovalStore
