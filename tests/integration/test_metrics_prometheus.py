"""A real Prometheus scrapes every metrics target and computes the rates the alert rules use."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration.test_traffic_fixture import NS, Cluster, FakeClock, build

from sandbox.metrics import metrics_targets, start_metrics_server

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not Path(PROMETHEUS).exists(), reason="prometheus is not installed"),
]


class WallClock(FakeClock):
    """Real time: Prometheus computes rates against its own clock."""

    def __call__(self) -> float:
        return time.time()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _query(url: str, promql: str) -> list[dict[str, Any]]:
    q = urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=5) as resp:
        return list(json.load(resp)["data"]["result"])


@pytest.fixture
def scraped(tmp_path: Path) -> Iterator[tuple[Cluster, str]]:
    """A ticking cluster behind a metrics server, and a Prometheus scraping it every second."""
    cluster = build(clock=WallClock(time.time()))
    cluster.run(2)
    cluster.traffic.start(interval_s=1.0)
    targets = metrics_targets(cluster.store, cluster.traffic)
    server = start_metrics_server("127.0.0.1", 0, targets)
    jobs = [
        {
            "job_name": path.strip("/").replace("/", "_"),
            "metrics_path": path,
            "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}],
        }
        for path in sorted(targets)
    ]
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": jobs}
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))
    port = _free_port()
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield cluster, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        cluster.traffic.stop()
        server.shutdown()


def _wait(url: str, promql: str, ok: Any, timeout_s: float = 40.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            result = _query(url, promql)
            if ok(result):
                return result
        except OSError:
            pass
        time.sleep(1.0)
    raise AssertionError(f"{promql} never satisfied the check; last result {result}")


def test_prometheus_scrapes_every_target_and_sees_traffic(scraped: tuple[Cluster, str]) -> None:
    cluster, url = scraped
    n = len(metrics_targets(cluster.store, cluster.traffic))
    _wait(url, "up == 1", lambda r: len(r) == n)
    rate = f'sum(rate(http_requests_total{{namespace="{NS}",service="api-gateway"}}[10s]))'
    result = _wait(url, rate, lambda r: bool(r) and float(r[0]["value"][1]) > 100)
    assert float(result[0]["value"][1]) < 400
    p99 = (
        "histogram_quantile(0.99, sum by (le) (rate("
        f'http_request_duration_seconds_bucket{{namespace="{NS}",service="api-gateway"}}[10s])))'
    )
    result = _wait(url, p99, lambda r: bool(r) and r[0]["value"][1] != "NaN")
    assert 0.01 < float(result[0]["value"][1]) < 1.0
    _wait(url, "kube_endpoint_address_available", lambda r: True)
    cpu = 'sum(rate(container_cpu_usage_seconds_total{pod=~"predictor-.*"}[10s]))'
    _wait(url, cpu, lambda r: bool(r) and float(r[0]["value"][1]) > 0.1)
