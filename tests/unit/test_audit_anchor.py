"""The audit chain anchored outside its database: a chain rewritten with its head and triggers passes
the plain check and fails ``audit verify --against`` with the rows where it was rewritten."""

from __future__ import annotations

import importlib
import json
import sqlite3
from pathlib import Path

import pytest
from fakes.campaign_out import record
from typer.testing import CliRunner

from agent.audit import GENESIS, AuditLog, _digest
from agent.audit_anchor import AnchorError, AnchorPublisher, publish_head, read_anchors, verify_against
from agent.cli import app
from agent.server.metrics import AgentMetrics

importlib.import_module("agent.cli.audit_cmd")


def _fill(log: AuditLog, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        log.append("action_applied" if i % 3 == 0 else "tool_call", incident_id="inc-1", data={"i": i})


def rewrite_chain(log: AuditLog, row_id: int, data: dict) -> None:
    """What an attacker with write access to the file does: change a row, re-hash every row after it,
    move the head and put the triggers back; nothing inside the file shows it."""
    db = sqlite3.connect(log.path, isolation_level=None)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("DROP TRIGGER audit_no_delete")
    rows = db.execute(
        "SELECT id, ts, kind, incident_id, actor, data, idempotency_key FROM audit ORDER BY id"
    ).fetchall()
    prev = GENESIS
    for rid, ts, kind, inc, actor, payload, idem in rows:
        if rid == row_id:
            payload = json.dumps(data, sort_keys=True)
        digest = _digest(prev, rid, ts, kind, inc, actor, payload, idem)
        db.execute(
            "UPDATE audit SET data = ?, prev_hash = ?, hash = ? WHERE id = ?", (payload, prev, digest, rid)
        )
        prev = digest
    db.execute("UPDATE audit_head SET last_id = ?, last_hash = ?", (rows[-1][0], prev))
    db.executescript(
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    )
    db.close()


def test_a_consistently_rewritten_chain_passes_verify_and_fails_against_the_anchors(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite")
    anchors = tmp_path / "elsewhere" / "anchors.jsonl"
    _fill(log, 4)
    assert publish_head(log, anchors) is not None  # rows 1-4
    _fill(log, 4, start=4)
    assert publish_head(log, anchors) is not None  # rows 1-8
    assert publish_head(log, anchors) is None  # same head: not published twice
    _fill(log, 2, start=8)  # rows 9-10, not anchored yet
    assert verify_against(log, anchors).ok

    rewrite_chain(log, 6, {"i": "nothing happened here"})
    assert log.verify().ok  # the chain alone cannot tell
    report = verify_against(log, anchors)
    assert not report.ok
    assert report.first_bad_id == 5
    assert "row 8" in (report.problem or "") and "between 5 and 8" in (report.problem or "")
    record(
        "audit",
        {
            "attack": "row 6 rewritten with every later hash, the head and the triggers",
            "plain": "passed",
            "against": report.problem,
        },
    )


def test_a_rebuilt_shorter_chain_is_caught(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite")
    _fill(log, 6)
    anchors = tmp_path / "anchors.jsonl"
    publish_head(log, anchors)
    fresh = AuditLog(tmp_path / "rebuilt.sqlite")  # the attacker starts over with fewer rows
    _fill(fresh, 3)
    report = verify_against(fresh, anchors)
    assert not report.ok and "6 rows" in (report.problem or "") and "has 3" in (report.problem or "")


def test_an_edited_row_is_still_named_by_the_chain_first(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite")
    _fill(log, 3)
    anchors = tmp_path / "anchors.jsonl"
    publish_head(log, anchors)
    db = sqlite3.connect(log.path, isolation_level=None)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET actor = 'mallory' WHERE id = 2")
    db.close()
    report = verify_against(log, anchors)
    assert not report.ok and report.first_bad_id == 2 and "altered" in (report.problem or "")


def test_a_damaged_anchor_file_is_named(tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.jsonl"
    anchors.write_text('{"ts": "x", "rows": 1, "hash": "ab"}\nnot json\n')
    with pytest.raises(AnchorError, match="line 2"):
        read_anchors(anchors)
    with pytest.raises(AnchorError, match="no anchor file"):
        read_anchors(tmp_path / "missing.jsonl")


def test_the_publisher_feeds_the_metrics_gauge_and_the_log(tmp_path: Path, caplog) -> None:
    log = AuditLog(tmp_path / "audit.sqlite")
    _fill(log, 5)
    metrics = AgentMetrics()
    publisher = AnchorPublisher(
        log, tmp_path / "anchors.jsonl", 3600, on_publish=lambda a: metrics.observe_audit_head(a.rows, a.hash)
    )
    with caplog.at_level("INFO", logger="agent.audit_anchor"):
        publisher.start()
        publisher.stop()
    _, digest = log.head()
    text = metrics.render().decode()
    assert "devops_agent_audit_rows 5.0" in text
    assert f'devops_agent_audit_head_info{{hash="{digest}"}} 5.0' in text
    assert f"audit head: rows=5 hash={digest}" in caplog.text
    assert [a.rows for a in read_anchors(tmp_path / "anchors.jsonl")] == [5]


def test_cli_anchor_then_verify_against(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("DEVOPS_AGENT_DATA_DIR", str(data))
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.chdir(tmp_path)
    log = AuditLog(data / "audit.sqlite")
    _fill(log, 4)
    export = tmp_path / "anchors.jsonl"
    cli = CliRunner()
    done = cli.invoke(app, ["audit", "anchor", "--to", str(export)])
    assert done.exit_code == 0, done.output
    assert "rows=4" in done.output
    ok = cli.invoke(app, ["audit", "verify", "--against", str(export)])
    assert ok.exit_code == 0 and "matches every anchor" in ok.output
    rewrite_chain(log, 2, {"i": "edited"})
    assert cli.invoke(app, ["audit", "verify"]).exit_code == 0
    bad = cli.invoke(app, ["audit", "verify", "--against", str(export)])
    assert bad.exit_code == 1
    assert "between 1 and 4" in bad.output
