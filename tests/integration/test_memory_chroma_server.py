"""Memory against a real Chroma server (``chroma run``, from the chromadb package), as many workers share it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from knowledge.embeddings import HashingEmbedder
from knowledge.memory import IncidentMemory
from knowledge.recall_index import FILE_NAME
from knowledge.records import IncidentRecord
from knowledge.runbooks import load_runbooks
from knowledge.synthetic import synthetic_incidents
from tests.fakes.serve_proc import free_port

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CHROMA = Path(sys.executable).with_name("chroma")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(180),
    pytest.mark.skipif(not CHROMA.exists(), reason="the chroma CLI comes with chromadb"),
]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (path / "server.log").open("wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not start: {(path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(path, ignore_errors=True)


def _target() -> IncidentRecord:
    return IncidentRecord(
        id="inc-disk",
        title="disk filled up on node",
        started_at=NOW - timedelta(days=1),
        service="predictor",
        alertname="KubeNodeDiskPressure",
        fault_class="disk_pressure",
    )


def test_two_workers_share_one_memory_through_the_server(chroma_url: str, tmp_path: Path) -> None:
    worker_a = IncidentMemory.open(tmp_path / "a", chroma_url, HashingEmbedder(1024))
    worker_b = IncidentMemory.open(tmp_path / "b", chroma_url, HashingEmbedder(1024))
    worker_a.remember_many(synthetic_incidents(300, seed=12, now=NOW))
    worker_b.remember(_target())  # written by the other worker, after a's first write
    hits = worker_a.recall(
        "pods evicted, node out of disk",
        service="predictor",
        alertname="KubeNodeDiskPressure",
        fault_class="disk_pressure",
        now=NOW,
    )
    assert hits[0].id == "inc-disk" and set(hits[0].matched) == {"service", "alertname", "fault_class"}
    assert worker_a.last_trace is None  # the server path: Chroma's own filter, no local index
    assert not (tmp_path / "a" / "memory" / FILE_NAME).exists()
    assert worker_a.count() == 301 and worker_b.get("inc-disk") == _target()
    worker_b.forget("inc-disk")
    assert worker_a.get("inc-disk") is None


def test_the_server_recalls_what_a_local_memory_recalls(chroma_url: str, tmp_path: Path) -> None:
    records = synthetic_incidents(400, seed=21, now=NOW)
    server = IncidentMemory.open(None, chroma_url, HashingEmbedder(1024))
    for r in server.records():
        server.forget(r.id)
    server.remember_many(records)
    local = IncidentMemory.open(tmp_path, None, HashingEmbedder(1024))
    local.remember_many(records)
    for probe in synthetic_incidents(5, seed=31, now=NOW):
        text, query = probe.symptoms[0], {"service": probe.service, "alertname": probe.alertname}
        top_server = server.recall(text, **query, k=1, now=NOW)[0]
        top_local = local.recall(text, **query, k=1, now=NOW)[0]
        assert top_server.record.fault_class == top_local.record.fault_class == probe.fault_class
        assert top_local.score >= top_server.score - 1e-4  # the local path ranks exactly


def test_runbook_search_works_against_the_server(chroma_url: str) -> None:
    memory = IncidentMemory.open(None, chroma_url, HashingEmbedder(1024))
    runbooks = load_runbooks()
    assert memory.index_runbooks(runbooks) == len(runbooks)
    hits = memory.search_runbooks("queue depth keeps growing and the consumer is deadlocked", k=2)
    assert hits[0].id == "queue-stalled-consumer"
