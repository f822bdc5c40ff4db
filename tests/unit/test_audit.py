"""The audit log detects an altered or deleted row."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.audit import AuditLog


def _filled(tmp_path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(tmp_path / "audit.sqlite")
    for i in range(n):
        log.append("tool_call", incident_id="inc-1", data={"tool": "k8s_get", "i": i})
    return log


def _raw(log: AuditLog) -> sqlite3.Connection:
    db = sqlite3.connect(log.path, isolation_level=None)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("DROP TRIGGER audit_no_delete")
    return db


def test_intact_chain_verifies(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    report = log.verify()
    assert report.ok and report.rows_checked == 5


def test_append_only_by_trigger(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    db = sqlite3.connect(log.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit SET actor = 'x' WHERE id = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit WHERE id = 2")


def test_altered_row_detected(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    _raw(log).execute("""UPDATE audit SET data = '{"tool": "k8s_delete_pod"}' WHERE id = 3""")
    report = log.verify()
    assert not report.ok and report.first_bad_id == 3 and "altered" in (report.problem or "")


def test_deleted_row_detected(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    _raw(log).execute("DELETE FROM audit WHERE id = 2")
    report = log.verify()
    assert not report.ok and report.first_bad_id == 2


def test_deleted_tail_detected(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    _raw(log).execute("DELETE FROM audit WHERE id = 5")
    report = log.verify()
    assert not report.ok and report.first_bad_id == 5


def test_rehashed_row_still_breaks_chain(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    _raw(log).execute(
        "UPDATE audit SET hash = (CASE WHEN substr(hash, 1, 1) = '0' THEN '1' ELSE '0' END) || substr(hash, 2) WHERE id = 2"
    )
    report = log.verify()
    assert not report.ok and report.first_bad_id == 2


def test_secrets_redacted_and_history(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.sqlite")
    log.append(
        "action_applied",
        incident_id="i",
        data={
            "tool": "k8s_scale",
            "target_ref": "/Deployment/prod/predictor",
            "env": {"DB_PASSWORD": "hunter2-very-secret"},
        },
        idempotency_key="apr-1",
    )
    assert "hunter2-very-secret" not in (tmp_path / "a.sqlite").read_bytes().decode("latin-1")
    assert log.has_applied("apr-1") and not log.has_applied("apr-2")
    hist = log.action_history(datetime.now(UTC) - timedelta(minutes=1))
    # the target survives redaction (stored as "target_key" it was masked, and no cooldown ever matched)
    assert [(h.tool, h.target_key) for h in hist] == [("k8s_scale", "/Deployment/prod/predictor")]
