"""Error budgets from the recorded SLO series: burn rates, budget left, time to exhaustion, state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.observability import FakeBackend, vector

from tools.deps import Deps
from tools.slo.status import QUERY, budget_statuses, slo_status

GW = {
    "sloth_id": "api-gateway-requests-availability",
    "sloth_service": "api-gateway",
    "sloth_slo": "requests-availability",
}
LAT = {
    "sloth_id": "api-gateway-requests-latency",
    "sloth_service": "api-gateway",
    "sloth_slo": "requests-latency",
}


def _sli(
    ids: dict[str, str], ns: str, ratios: dict[str, float], remaining: float
) -> list[tuple[dict[str, str], float]]:
    base = {**ids, "team": "platform", "namespace": ns}
    out = [
        ({"__name__": f"slo:sli_error:ratio_rate{w}", **base, "sloth_window": w}, v)
        for w, v in ratios.items()
    ]
    out.append(({"__name__": "slo:period_error_budget_remaining:ratio", **base}, remaining))
    return out


def _meta(ids: dict[str, str], objective: float) -> list[tuple[dict[str, str], float]]:
    return [
        ({"__name__": "slo:objective:ratio", **ids, "team": "platform"}, objective),
        ({"__name__": "slo:time_period:days", **ids, "team": "platform"}, 30),
    ]


SAMPLES = [
    *_meta(GW, 0.995),
    *_meta(LAT, 0.99),
    *_sli(GW, "prod", {"5m": 0.1, "1h": 0.08, "6h": 0.01, "1d": 0.003, "3d": 0.001, "30d": 0.003}, 0.4),
    *_sli(GW, "staging", {"5m": 0.0, "1h": 0.0, "6h": 0.0, "1d": 0.0, "3d": 0.0}, 1.0),
    *_sli(LAT, "prod", {"5m": 0.0, "1h": 0.005, "6h": 0.005, "1d": 0.02, "3d": 0.04}, -0.2),
]


def test_burn_rates_budget_and_time_to_exhaustion() -> None:
    rows = {(r.slo, r.labels["namespace"]): r for r in budget_statuses(SAMPLES)}
    prod = rows[("requests-availability", "prod")]
    assert prod.labels == {"namespace": "prod", "team": "platform"}
    assert prod.burn_rates == pytest.approx({"5m": 20, "1h": 16, "6h": 2, "1d": 0.6, "3d": 0.2})
    assert prod.budget_remaining == 0.4
    assert prod.hours_to_exhaustion == pytest.approx(0.4 * 30 * 24 / 16)  # 18 h at the 1h burn rate
    assert prod.state == "page"  # 1h and 5m both above 14.4x
    staging = rows[("requests-availability", "staging")]
    assert (staging.state, staging.hours_to_exhaustion) == ("ok", None)
    latency = rows[("requests-latency", "prod")]
    assert latency.state == "exhausted" and latency.hours_to_exhaustion == 0


def test_ticket_when_the_slow_pairs_burn() -> None:
    samples = [
        *_meta(GW, 0.995),
        *_sli(GW, "prod", {"5m": 0.001, "1h": 0.01, "6h": 0.02, "1d": 0.02, "3d": 0.01}, 0.9),
    ]
    (row,) = budget_statuses(samples)
    assert (
        row.burn_rates["1d"] == pytest.approx(4) and row.state == "ticket"
    )  # 2h missing: the 6h/3d pair at 1x


@pytest.fixture
def prom() -> Iterator[FakeBackend]:
    with FakeBackend() as backend:
        yield backend


def test_tool_reads_prometheus_and_filters_by_service(prom: FakeBackend, tmp_path: Path) -> None:
    prom.route("/api/v1/query", vector(SAMPLES))
    deps = Deps(prometheus_url=prom.url, raw_dir=tmp_path)
    result = slo_status.invoke(deps, {"service": "api-gateway"})
    assert result.status == "ok", result.text
    assert prom.requests[-1][1]["query"] == [QUERY]
    assert "requests-availability" in result.text and "page" in result.text and "18.0h" in result.text
    assert {(r["slo"], r["state"]) for r in result.data} == {
        ("requests-availability", "page"),
        ("requests-availability", "ok"),
        ("requests-latency", "exhausted"),
    }
    none = slo_status.invoke(deps, {"service": "checkout"})
    assert none.status == "no_data" and "devops-agent slo generate" in none.text
