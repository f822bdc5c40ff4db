"""The small interface of each durable store, as the rest of the agent uses it.

One class implements each, on SQLite and on Postgres alike (``agent.server.queue.WorkQueue``,
``agent.approvals.ApprovalStore``, ``agent.audit.AuditLog``, ``agent.storage.checkpoints``); the
contract tests under ``tests/stores`` run the same cases on both engines. mypy checks that each class
still satisfies its protocol (the ``TYPE_CHECKING`` lines at the end of each module).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from agent.approvals import ApprovalDecision, ApprovalRequest
    from agent.audit import AuditRow, VerifyReport
    from agent.guard import ActionRecord
    from agent.server.alerts import WebhookPayload
    from agent.server.queue import IngestResult, WorkItem


class WorkQueueStore(Protocol):
    """Incidents from alerts and the work on them, claimed by workers under leases."""

    owner: str
    lease_s: float

    def ingest(self, payload: WebhookPayload) -> IngestResult: ...

    def enqueue(
        self, incident_id: str, kind: Literal["investigate", "close", "resume"], *, payload: str | None = None
    ) -> None: ...

    def claim(self) -> WorkItem | None: ...

    def renew(self) -> int: ...

    def finish(self, item: WorkItem, *, error: str | None = None) -> bool: ...

    def recover(self) -> int: ...

    def depth(self) -> int: ...


class ApprovalsStore(Protocol):
    """Approval requests; a decision and an execution are each claimed exactly once."""

    def add(self, req: ApprovalRequest) -> ApprovalRequest: ...

    def get(self, approval_id: str) -> ApprovalRequest: ...

    def decide(self, decision: ApprovalDecision, *, approvers: Sequence[str] = ()) -> ApprovalRequest: ...

    def claim_execution(self, approval_id: str) -> bool: ...

    def reopen(self, approval_id: str) -> None: ...


class AuditStore(Protocol):
    """The append-only, hash-chained log."""

    def append(
        self,
        kind: Any,
        *,
        incident_id: str | None = None,
        actor: str = "agent",
        data: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> AuditRow: ...

    def rows(
        self, incident_id: str | None = None, kind: str | None = None, limit: int | None = None
    ) -> list[AuditRow]: ...

    def has_applied(self, idempotency_key: str) -> bool: ...

    def action_history(self, since: datetime) -> list[ActionRecord]: ...

    def head(self) -> tuple[int, str]: ...

    def verify(self) -> VerifyReport: ...
