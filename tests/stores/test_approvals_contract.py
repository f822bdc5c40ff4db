"""Approvals on SQLite and on PostgreSQL: a decision and an execution are each claimed exactly once,
however many workers race for them."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest
from fakes import store_workers
from stores.conftest import Backend

from agent.approvals import ApprovalDecision, ApprovalError, ApprovalRequest, ApprovalStore
from tools.base import Target

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


def _req() -> ApprovalRequest:
    return ApprovalRequest.create(
        ttl_s=600,
        incident_id="inc-1",
        tool="k8s_rollback",
        args={"deployment": "predictor"},
        target=Target(kind="Deployment", name="predictor", namespace="prod"),
        risk="write",
        reason="5xx after rollout",
    )


def _store(backend: Backend) -> ApprovalStore:
    return ApprovalStore(backend.open("approvals.sqlite"))


def test_add_list_decide_reopen(backend: Backend) -> None:
    store = _store(backend)
    req = store.add(_req())
    assert store.add(req).status == "pending"  # a node re-run on resume adds it again: no change
    assert [r.id for r in _store(backend).list(status="pending")] == [req.id]
    decided = store.decide(ApprovalDecision(approval_id=req.id, decision="approve", approver="alice"))
    assert decided.status == "approved" and _store(backend).get(req.id).decided_by == "alice"
    with pytest.raises(ApprovalError, match="already approved by alice"):
        store.decide(ApprovalDecision(approval_id=req.id, decision="reject", approver="bob"))
    store.reopen(req.id)
    assert _store(backend).get(req.id).status == "pending"


def test_racing_deciders_claim_a_decision_exactly_once(backend: Backend) -> None:
    req = _store(backend).add(_req())
    winners: list[str] = []
    refused: list[str] = []
    go = threading.Barrier(8)

    def decide(n: int) -> None:
        store = _store(backend)
        go.wait()
        try:
            store.decide(ApprovalDecision(approval_id=req.id, decision="approve", approver=f"user{n}"))
            winners.append(f"user{n}")
        except ApprovalError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(winners) == 1 and len(refused) == 7
    assert _store(backend).get(req.id).decided_by == winners[0]


def test_racing_processes_claim_an_execution_exactly_once(backend: Backend) -> None:
    req = _store(backend).add(_req())
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=store_workers.claim_execution, args=(backend.where, req.id, start, out))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start.set()
    results = [out.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(30)
    assert sorted(results) == [False, False, False, True]
    assert _store(backend).claim_execution(req.id) is False
