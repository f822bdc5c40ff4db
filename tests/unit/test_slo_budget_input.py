"""Which budget the guard gets for a target: the covering SLOs' lowest, by namespace; else none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakes.observability import FakeBackend, closed_port_url, vector

from agent.slo_budget import error_budget_for
from tools.base import Target
from tools.deps import Deps

SPEC = """
version: prometheus/v1
service: predictor
workloads: [predictor, predictor-canary]
slos:
  - name: requests-availability
    objective: 99.5
    sli:
      events:
        error_query: sum by (namespace) (rate(errors[{{.window}}]))
        total_query: sum by (namespace) (rate(total[{{.window}}]))
    alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}
"""


def _row(ns: str, remaining: float, slo: str = "requests-availability") -> tuple[dict[str, str], float]:
    labels = {
        "__name__": "slo:period_error_budget_remaining:ratio",
        "sloth_id": f"predictor-{slo}",
        "sloth_service": "predictor",
        "sloth_slo": slo,
        "namespace": ns,
    }
    return labels, remaining


@pytest.fixture
def prom() -> Iterator[FakeBackend]:
    with FakeBackend() as backend:
        backend.route(
            "/api/v1/query", vector([_row("prod", -0.2), _row("staging", 0.7), _row("prod", 0.5, "latency")])
        )
        yield backend


def _deps(url: str, tmp_path: Path, slo_dir: Path | None) -> SimpleNamespace:
    return SimpleNamespace(
        settings=SimpleNamespace(slo_dir=slo_dir),
        extra={},
        tool_deps=Deps(prometheus_url=url, raw_dir=tmp_path),
    )


def _target(name: str, ns: str) -> Target:
    return Target(kind="Deployment", name=name, namespace=ns)


def test_lowest_budget_of_the_covering_slos_in_the_targets_namespace(
    prom: FakeBackend, tmp_path: Path
) -> None:
    (tmp_path / "predictor.yaml").write_text(SPEC)
    deps = _deps(prom.url, tmp_path, tmp_path)
    prod = error_budget_for(deps, _target("predictor-canary", "prod"))
    assert prod is not None and prod.remaining == -0.2
    assert prod.slo == "predictor-requests-availability (namespace=prod)"
    staging = error_budget_for(deps, _target("predictor", "staging"))
    assert staging is not None and staging.remaining == 0.7
    assert error_budget_for(deps, _target("cache", "prod")) is None  # no SLO covers it
    assert error_budget_for(deps, Target(kind="Node", name="node-1")) is None


def test_no_specs_or_no_prometheus_means_no_input(tmp_path: Path) -> None:
    assert error_budget_for(_deps(closed_port_url(), tmp_path, None), _target("predictor", "prod")) is None
    (tmp_path / "predictor.yaml").write_text(SPEC)
    deps = _deps(closed_port_url(), tmp_path, tmp_path)
    assert error_budget_for(deps, _target("predictor", "prod")) is None
    assert "error budget unknown: cannot reach Prometheus" in deps.extra["slo_note"]
