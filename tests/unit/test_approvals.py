from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.approvals import ApprovalDecision, ApprovalError, ApprovalRequest, ApprovalStore
from tools.base import Target


def _req(ttl: int = 60) -> ApprovalRequest:
    return ApprovalRequest.create(
        ttl_s=ttl,
        incident_id="inc-1",
        tool="k8s_rollback",
        args={"deployment": "predictor"},
        target=Target(kind="Deployment", name="predictor", namespace="prod"),
        risk="write",
        reason="5xx after rollout",
    )


def test_decide_once(tmp_path: Path) -> None:
    store = ApprovalStore(tmp_path / "a.sqlite")
    req = store.add(_req())
    decided = store.decide(ApprovalDecision(approval_id=req.id, decision="approve", approver="alice"))
    assert decided.status == "approved" and decided.decided_by == "alice"
    with pytest.raises(ApprovalError, match="already approved by alice"):
        store.decide(ApprovalDecision(approval_id=req.id, decision="approve", approver="bob"))
    assert store.list(status="pending") == []


def test_re_adding_same_request_is_a_no_op(tmp_path: Path) -> None:
    store = ApprovalStore(tmp_path / "a.sqlite")
    req = store.add(_req())
    store.decide(ApprovalDecision(approval_id=req.id, decision="reject", approver="a", reason="no"))
    assert store.add(req).status == "rejected"


def test_expired_request_is_rejected(tmp_path: Path) -> None:
    store = ApprovalStore(tmp_path / "a.sqlite")
    req = store.add(_req(ttl=10))
    late = datetime.now(UTC) + timedelta(seconds=11)
    with pytest.raises(ApprovalError, match="expired"):
        store.decide(ApprovalDecision(approval_id=req.id, decision="approve", approver="a", decided_at=late))
    assert store.get(req.id).status == "expired"


def test_approver_allow_list(tmp_path: Path) -> None:
    store = ApprovalStore(tmp_path / "a.sqlite")
    req = store.add(_req())
    with pytest.raises(ApprovalError, match="allow-list"):
        store.decide(
            ApprovalDecision(approval_id=req.id, decision="approve", approver="mallory"), approvers=["alice"]
        )
    assert store.get(req.id).status == "pending"


def test_unknown_id(tmp_path: Path) -> None:
    with pytest.raises(ApprovalError, match="no approval request"):
        ApprovalStore(tmp_path / "a.sqlite").get("apr-nope")
