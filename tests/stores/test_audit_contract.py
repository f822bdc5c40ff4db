"""The audit log on SQLite and on PostgreSQL: appends chain, `audit verify` passes on an intact log
and names the row that changed, and two processes appending at once never fork the chain."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import subprocess
import sys
import time

import pytest
from fakes import store_workers
from stores.conftest import Backend

from agent.audit import AuditLog

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


def _log(backend: Backend) -> AuditLog:
    return AuditLog(backend.open("audit.sqlite"))


def _cli(backend: Backend, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVOPS_AGENT_")} | backend.env
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_append_chains_and_records_idempotency(backend: Backend) -> None:
    log = _log(backend)
    first = log.append("run_started", incident_id="inc-1")
    second = log.append(
        "action_applied", incident_id="inc-1", data={"tool": "k8s_scale"}, idempotency_key="k1"
    )
    assert (first.id, second.id) == (1, 2) and second.prev_hash == first.hash
    other = _log(backend)  # another connection sees the same chain
    assert other.head() == (2, second.hash) and other.has_applied("k1") and not other.has_applied("k2")
    assert [r.kind for r in other.rows(incident_id="inc-1")] == ["run_started", "action_applied"]


def test_secrets_are_redacted_before_they_are_written(backend: Backend) -> None:
    log = _log(backend)
    log.append("tool_call", data={"env": {"DB_PASSWORD": "hunter2-very-secret"}})
    assert "hunter2-very-secret" not in str(_log(backend).rows()[0].data)


def test_audit_verify_cli_on_an_intact_log(backend: Backend) -> None:
    log = _log(backend)
    for i in range(5):
        log.append("tool_call", data={"i": i})
    done = _cli(backend, "audit", "verify")
    assert done.returncode == 0, done.stderr
    assert "audit log intact" in done.stdout and "5 rows" in done.stdout


def test_history_cannot_be_updated_in_place(backend: Backend) -> None:
    log = _log(backend)
    log.append("tool_call", data={"tool": "k8s_get"})
    with pytest.raises(Exception, match="append-only"), backend.open("audit.sqlite").tx() as tx:
        tx.execute("UPDATE audit SET actor = 'mallory' WHERE id = 1")
    with pytest.raises(Exception, match="append-only"), backend.open("audit.sqlite").tx() as tx:
        tx.execute("DELETE FROM audit WHERE id = 1")


def test_audit_verify_cli_names_an_altered_row(backend: Backend) -> None:
    log = _log(backend)
    for i in range(4):
        log.append("tool_call", data={"tool": "k8s_get", "i": i})
    with backend.open("audit.sqlite").tx() as tx:  # someone with the database's owner rights
        if backend.name == "postgres":
            tx.execute("ALTER TABLE audit DISABLE TRIGGER audit_no_update")
        else:
            tx.execute("DROP TRIGGER audit_no_update")
        tx.execute("""UPDATE audit SET data = '{"tool": "k8s_delete_pod"}' WHERE id = 3""")
    done = _cli(backend, "audit", "verify")
    assert done.returncode == 1
    assert "first bad row 3" in done.stderr and "altered" in done.stderr


def test_two_processes_appending_at_once_never_fork_the_chain(backend: Backend) -> None:
    _log(backend).append("run_started", incident_id="inc-race")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [
        ctx.Process(target=store_workers.append_audit, args=(backend.where, start, 60, f"worker-{n}"))
        for n in range(2)
    ]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start.set()
    for p in procs:
        p.join(90)
        assert p.exitcode == 0
    log = _log(backend)
    rows = log.rows()
    assert [r.id for r in rows] == list(range(1, 122))
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, len(rows)))
    assert {r.actor for r in rows[1:]} == {"worker-0", "worker-1"}
    interleaved = sum(1 for a, b in itertools.pairwise(rows[1:]) if a.actor != b.actor)
    assert interleaved >= 1  # the two really wrote at the same time
    report = log.verify()
    assert report.ok and report.rows_checked == 121
