"""The knowledge CLI and `incidents report` through Typer's CliRunner, on a temporary data dir."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from knowledge.embeddings import HashingEmbedder
from knowledge.memory import IncidentMemory
from knowledge.synthetic import synthetic_incidents

importlib.import_module("agent.cli.knowledge_cmd")  # registers `knowledge` and `incidents report`

NOW = datetime(2026, 1, 1, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEVOPS_AGENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DEVOPS_AGENT_CHROMA_URL", raising=False)
    monkeypatch.delenv("DEVOPS_AGENT_RUNBOOKS_DIR", raising=False)
    monkeypatch.setenv("DEVOPS_AGENT_EMBEDDING", "hashing")
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path / "data"


def _run(*args: str) -> tuple[int, str]:
    """Exit code and output; rich wraps long messages at the terminal width (where a line breaks
    depends on the length of the temporary path), so --json output is returned as is and any other
    output with its whitespace folded to single spaces."""
    result = runner.invoke(app, list(args))
    out = result.output if "--json" in args else " ".join(result.output.split())
    return result.exit_code, out


def _seed(tmp_path: Path, n: int = 40) -> Path:
    source = IncidentMemory.open(tmp_path / "elsewhere", None, HashingEmbedder(1024))
    source.remember_many(synthetic_incidents(n, seed=5, now=NOW))
    dump = tmp_path / "dump.jsonl"
    source.export_jsonl(dump)
    return dump


def test_import_search_stats_export(data_dir: Path, tmp_path: Path) -> None:
    code, out = _run("knowledge", "import", str(_seed(tmp_path)))
    assert code == 0 and "imported 40 incidents" in out
    first = next(iter(IncidentMemory.open(tmp_path / "elsewhere", None, HashingEmbedder(1024)).records()))
    code, out = _run("knowledge", "search", first.search_text(), "--json", "-k", "2")
    assert code == 0
    assert json.loads(out)["incidents"][0]["id"] == first.id
    code, out = _run("knowledge", "stats", "--json")
    assert code == 0 and json.loads(out)["incidents"] == 40
    code, out = _run("knowledge", "export", str(tmp_path / "again.jsonl"))
    assert code == 0 and len((tmp_path / "again.jsonl").read_text().splitlines()) == 41


def test_add_runbook_rejects_a_bad_one_and_indexes_a_good_one(data_dir: Path, tmp_path: Path) -> None:
    packaged = Path(__file__).parents[2] / "knowledge" / "runbooks" / "cache-down-restore.md"
    text = (
        packaged.read_text()
        .replace("id: cache-down-restore", "id: cache-down-ours")
        .replace("title: The cache is down", "title: Our memcached tier vanished")
    )
    bad = tmp_path / "bad.md"
    bad.write_text(text.replace("tool: k8s_scale", "tool: k8s_scael"))
    code, out = _run("knowledge", "add-runbook", str(bad))
    assert code == 1 and "remediations[0].tool" in out and "did you mean k8s_scale?" in out
    good = tmp_path / "good.md"
    good.write_text(text)
    code, out = _run("knowledge", "add-runbook", str(good))
    assert code == 0 and "added runbook cache-down-ours" in out
    assert (data_dir / "runbooks" / "cache-down-ours.md").exists()
    code, out = _run("knowledge", "search", "our memcached tier vanished", "--json")
    assert "cache-down-ours" in [r["id"] for r in json.loads(out)["runbooks"]]
    code, out = _run("knowledge", "add-runbook", str(good))
    assert code == 1 and "--force" in out


def test_embedder_mismatch_is_reported_and_reindex_fixes_it(data_dir: Path) -> None:
    IncidentMemory.open(data_dir, None, HashingEmbedder(512)).remember_many(synthetic_incidents(5, now=NOW))
    code, out = _run("knowledge", "stats")
    assert code == 1 and "hashing-512" in out and "knowledge reindex" in out
    code, out = _run("knowledge", "reindex")
    assert code == 0 and "reindexed 5 incidents" in out and "hashing-1024" in out
    code, out = _run("knowledge", "stats", "--json")
    assert code == 0 and json.loads(out)["embedder"] == "hashing-1024"


def test_incidents_report_writes_the_postmortem(data_dir: Path, tmp_path: Path) -> None:
    record = synthetic_incidents(1, now=NOW)[0]
    IncidentMemory.open(data_dir, None, HashingEmbedder(1024)).remember(record)
    out_file = tmp_path / "pm" / "report.md"
    code, out = _run("incidents", "report", record.id, "--out", str(out_file))
    assert code == 0, out
    markdown = out_file.read_text()
    assert markdown.startswith(f"# Postmortem: {record.title}") and record.root_cause in markdown
    code, out = _run("incidents", "report", record.id)
    assert code == 0 and "## Timeline" in out
    code, out = _run("incidents", "report", "does-not-exist")
    assert code == 1 and "not in memory" in out


def test_an_unreachable_chroma_server_is_a_clear_error(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DEVOPS_AGENT_CHROMA_URL", f"http://127.0.0.1:{port}")
    code, out = _run("knowledge", "stats")
    assert code == 1 and f"cannot open memory (http://127.0.0.1:{port})" in out
