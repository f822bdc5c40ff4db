"""The work queue's contract, on SQLite and on PostgreSQL: claims under leases, takeover of an
expired lease, one running item per incident, and no item claimed twice by racing workers."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest
from fakes import store_workers
from stores.conftest import Backend

from agent.server.alerts import parse_payload
from agent.server.queue import WorkQueue

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


def _queue(backend: Backend, lease_s: float = 60) -> WorkQueue:
    return WorkQueue(backend.open("serve.sqlite"), lease_s=lease_s)


def _payload(group: str, fp: str = "a", status: str = "firing", namespace: str = "shop") -> dict[str, object]:
    labels = {"alertname": "HighErrorRate", "namespace": namespace, "service": "api"}
    return {
        "version": "4",
        "groupKey": group,
        "status": status,
        "receiver": "agent",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {},
                "startsAt": "2026-01-01T00:00:00Z",
                "fingerprint": fp,
            }
        ],
    }


def test_ingest_opens_one_incident_per_group_and_queues_its_investigation(backend: Backend) -> None:
    q = _queue(backend)
    first = q.ingest(parse_payload(_payload("g1")))
    again = q.ingest(parse_payload(_payload("g1")))
    assert first.opened and not again.opened and again.incident_id == first.incident_id and again.folded == 1
    item = q.claim()
    assert item is not None and item.incident_id == first.incident_id and item.kind == "investigate"
    assert q.claim() is None  # nothing else is due
    assert q.finish(item)
    assert [w["state"] for w in q.work_items(first.incident_id)] == ["done"]
    resolved = q.ingest(parse_payload(_payload("g1", status="resolved")))
    assert resolved.closing and (q.incident(first.incident_id) or {}).get("closed_at")


def test_a_second_group_in_the_namespace_is_correlated_not_investigated(backend: Backend) -> None:
    q = _queue(backend)
    parent = q.ingest(parse_payload(_payload("g1", fp="a")))
    child = q.ingest(parse_payload(_payload("g2", fp="b")))
    assert child.parent_id == parent.incident_id
    assert q.claim() is not None and q.claim() is None  # only the parent's investigation is queued
    assert [c["id"] for c in q.children(parent.incident_id)] == [child.incident_id]


def test_a_group_after_a_verified_fix_follows_it_even_once_it_closed(backend: Backend) -> None:
    """A lagging alert after a verified fix is a follow-up of the fixed incident (checked, maybe
    folded), not an incident of its own; an incident that closed unfixed is not followed."""
    q = _queue(backend)
    q.follow_up_delay_s = 0
    fixed = q.ingest(parse_payload(_payload("g1", fp="a")))
    item = q.claim()
    assert item is not None and q.finish(item)
    q.set_status(fixed.incident_id, "resolved", {"status": "resolved", "path": ["Deployment/api"]})
    q.ingest(parse_payload(_payload("g1", fp="a", status="resolved")))
    q.set_status(fixed.incident_id, "closed")
    late = q.ingest(parse_payload(_payload("g2", fp="b")))
    assert late.parent_id == fixed.incident_id
    assert (q.incident(late.incident_id) or {})["status"] == "queued"  # a delayed look, not correlated
    q.fold_lagging(late.incident_id, "HighErrorRate (late): lagging")
    parent = q.incident(fixed.incident_id) or {}
    assert "HighErrorRate (late): lagging" in parent["outcome"]["folded_alerts"]
    assert (q.incident(late.incident_id) or {})["status"] == "folded"

    other = _queue(backend)
    unfixed = other.ingest(parse_payload(_payload("h1", fp="c", namespace="shop-2")))
    other.set_status(unfixed.incident_id, "no_action_needed", {"status": "no_action_needed"})
    other.ingest(parse_payload(_payload("h1", fp="c", status="resolved", namespace="shop-2")))
    other.set_status(unfixed.incident_id, "closed")
    assert other.ingest(parse_payload(_payload("h2", fp="d", namespace="shop-2"))).parent_id is None


def test_expired_lease_is_taken_over_and_the_first_worker_cannot_finish(backend: Backend) -> None:
    a, b = _queue(backend, lease_s=1), _queue(backend, lease_s=1)
    a.enqueue("inc-1", "investigate")
    item = a.claim()
    assert item is not None and item.attempts == 1
    assert b.claim() is None  # the lease holds
    time.sleep(1.2)
    taken = b.claim()
    assert taken is not None and taken.id == item.id and taken.attempts == 2
    assert not a.finish(item)  # a lost the lease: its finish changes nothing
    rows = b.work_items("inc-1")
    assert rows[0]["state"] == "running" and rows[0]["lease_owner"] == b.owner
    assert b.finish(taken)
    assert b.work_items("inc-1")[0]["state"] == "done"


def test_renewed_lease_is_not_taken_over(backend: Backend) -> None:
    a, b = _queue(backend, lease_s=1), _queue(backend, lease_s=1)
    a.enqueue("inc-1", "investigate")
    assert a.claim() is not None
    for _ in range(3):
        time.sleep(0.5)
        assert a.renew() == 1
        assert b.claim() is None


def test_one_running_item_per_incident(backend: Backend) -> None:
    a, b = _queue(backend), _queue(backend)
    a.enqueue("inc-1", "investigate")
    a.enqueue("inc-1", "resume")
    a.enqueue("inc-2", "investigate")
    first, second = a.claim(), b.claim()
    assert first is not None and second is not None
    assert (first.incident_id, second.incident_id) == ("inc-1", "inc-2")
    assert b.claim() is None  # inc-1's resume waits for its investigation
    assert a.finish(first)
    third = b.claim()
    assert third is not None and (third.incident_id, third.kind) == ("inc-1", "resume")


def test_failed_item_is_retried_then_marked_failed(backend: Backend) -> None:
    q = _queue(backend)
    q.enqueue("inc-1", "investigate")
    for attempt in (1, 2, 3):
        item = q.claim()
        assert item is not None and item.attempts == attempt
        assert q.finish(item, error="boom")
    assert q.claim() is None
    assert q.work_items("inc-1")[0]["state"] == "failed"


def test_racing_threads_never_claim_an_item_twice(backend: Backend) -> None:
    setup = _queue(backend)
    for i in range(60):
        setup.enqueue(f"inc-{i % 30}", "investigate")  # two items per incident
    claimed: list[list[int]] = [[] for _ in range(4)]
    running: dict[str, int] = {}
    overlap: list[str] = []
    guard = threading.Lock()
    go = threading.Barrier(4)

    def worker(n: int) -> None:
        q = _queue(backend)
        go.wait()
        while (item := q.claim()) is not None:
            with guard:
                if running.get(item.incident_id):
                    overlap.append(item.incident_id)
                running[item.incident_id] = 1
            claimed[n].append(item.id)
            time.sleep(0.002)
            with guard:
                running[item.incident_id] = 0
            assert q.finish(item)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    every = [i for got in claimed for i in got]
    assert sorted(every) == sorted(set(every)) and len(every) == 60
    assert overlap == []  # no incident ran in two workers at once
    assert sum(1 for got in claimed if got) >= 2  # the work was actually shared


def test_racing_processes_never_claim_an_item_twice(backend: Backend) -> None:
    setup = _queue(backend)
    for i in range(80):
        setup.enqueue(f"inc-{i}", "investigate")
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=store_workers.claim_all, args=(backend.where, start, out)) for _ in range(3)]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start.set()
    results = [out.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    every = [i for got in results for i in got]
    assert len(every) == 80 and len(set(every)) == 80
    assert all(w["state"] == "done" for i in range(80) for w in setup.work_items(f"inc-{i}"))


def test_recover_requeues_work_of_a_dead_process_but_not_of_a_live_worker(backend: Backend) -> None:
    q = _queue(backend)
    q.enqueue("inc-dead", "investigate")
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=store_workers.claim_and_exit, args=(backend.where,))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    live = _queue(backend)
    live.owner = "another-host/1/abcd"  # a worker on another machine, its lease still good
    live.enqueue("inc-live", "investigate")
    assert live.claim() is not None
    assert q.claim() is None  # both are running: the dead one's lease has ten minutes left
    assert q.recover() == 1
    item = q.claim()
    assert item is not None and item.incident_id == "inc-dead" and item.attempts == 2


def test_racing_webhooks_of_one_group_open_one_incident(backend: Backend) -> None:
    _queue(backend)
    results = []
    go = threading.Barrier(6)

    def post(n: int) -> None:
        q = _queue(backend)
        go.wait()
        results.append(q.ingest(parse_payload(_payload("storm", fp=f"fp{n}"))))

    threads = [threading.Thread(target=post, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.opened for r in results) == 1 and len({r.incident_id for r in results}) == 1
    incident = _queue(backend).incident(results[0].incident_id) or {}
    assert len(incident["alerts"]) == 6  # every webhook's alert was kept
    assert len(_queue(backend).work_items(results[0].incident_id)) == 1
