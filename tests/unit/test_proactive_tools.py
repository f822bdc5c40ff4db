"""The proactive read tools against a scripted Prometheus: what they query, what they find, and the
pre-emptive change they propose for a forecast crossing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes.observability import FakeBackend, matrix, vector

from tools.deps import Deps
from tools.proactive.checks import capacity_forecast, detect_anomalies

STEP = 300.0
START = 1_793_577_600.0
N = 14 * 288
MI = 1024**2
LEAK = {"namespace": "prod", "workload": "predictor", "container": "app"}


def _leak() -> list[float]:
    rng = np.random.default_rng(5)
    t = np.arange(N) * STEP
    return list(
        300 * MI + rng.normal(0, 2 * MI, N) + np.clip(t - (t[-1] - 36 * 3600), 0, None) / 3600 * 4 * MI
    )


def _flat(level: float) -> list[float]:
    rng = np.random.default_rng(6)
    return list(level * rng.normal(1, 0.02, N))


def _range(params: dict[str, list[str]]) -> tuple[int, Any]:
    q = params["query"][0]
    if "container_memory_working_set_bytes" in q:
        return matrix([(LEAK, _leak())], start=START, step=STEP)
    if q.startswith("sum by (namespace, service) (rate(http_requests_total") and "5.." not in q:
        v = _flat(200.0)
        v[-4:] = [x * 2 for x in v[-4:]]
        return matrix([({"namespace": "prod", "service": "api"}, v)], start=START, step=STEP)
    return matrix([], start=START, step=STEP)


@pytest.fixture
def prom() -> Iterator[FakeBackend]:
    with FakeBackend() as backend:
        backend.route("/api/v1/query_range", _range)
        backend.route(
            "/api/v1/query",
            lambda p: vector([(LEAK, 512 * MI)]) if 'resource="memory"' in p["query"][0] else vector([]),
        )
        yield backend


def test_anomalies_name_the_signal_target_and_baseline(prom: FakeBackend, tmp_path: Path) -> None:
    result = detect_anomalies.invoke(Deps(prometheus_url=prom.url, raw_dir=tmp_path), {"namespace": "prod"})
    assert result.status == "ok", result.text
    (finding,) = [f for f in result.data if f["signal"] == "rate"]
    assert finding["target"] == "api" and finding["direction"] == "up"
    assert finding["baseline"]["median"] == pytest.approx(200, rel=0.05)
    queries = [p["query"][0] for path, p in prom.requests if path == "/api/v1/query_range"]
    assert len(queries) == 4 and all('namespace="prod"' in q for q in queries)


def test_forecast_finds_the_leak_and_proposes_a_limit_through_the_guard(
    prom: FakeBackend, tmp_path: Path
) -> None:
    result = capacity_forecast.invoke(Deps(prometheus_url=prom.url, raw_dir=tmp_path), {"horizon_hours": 48})
    assert result.status == "ok", result.text
    (risk,) = result.data
    assert risk["resource"] == "memory" and risk["target"] == "prod/predictor/app"
    assert 14 < risk["eta_hours"] < 20
    proposal = risk["proposal"]
    assert proposal["tool"] == "k8s_set_resources"
    assert proposal["args"]["deployment"] == "predictor" and proposal["args"]["memory_limit"].endswith("Mi")
    assert int(proposal["args"]["memory_limit"][:-2]) > 512


def test_no_risk_within_a_short_horizon(prom: FakeBackend, tmp_path: Path) -> None:
    result = capacity_forecast.invoke(Deps(prometheus_url=prom.url, raw_dir=tmp_path), {"horizon_hours": 6})
    assert result.status == "no_data" and "none reaches its limit within 6 h" in result.text
