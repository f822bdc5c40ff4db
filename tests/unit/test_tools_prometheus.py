"""Prometheus tools against a scripted HTTP server: shaping, bad queries, unreachable, timeout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.observability import FakeBackend, bad_query, closed_port_url, matrix, ok, vector

from tools.deps import Deps
from tools.prometheus import (
    auto_step,
    prometheus_alerts,
    prometheus_labels,
    prometheus_metric_names,
    prometheus_query,
    prometheus_range_query,
    prometheus_rules,
    prometheus_targets,
)


@pytest.fixture
def prom() -> Iterator[FakeBackend]:
    with FakeBackend() as backend:
        yield backend


def deps_for(url: str, tmp_path: Path, timeout: float = 5.0, budget: int = 1500) -> Deps:
    return Deps(prometheus_url=url, http_timeout_s=timeout, token_budget=budget, raw_dir=tmp_path / "raw")


def test_instant_query_shows_values_largest_first_and_only_differing_labels(
    prom: FakeBackend, tmp_path: Path
) -> None:
    prom.route("/api/v1/query", vector([
        ({"__name__": "up", "job": "kube", "instance": "a:1"}, 1.0),
        ({"__name__": "up", "job": "kube", "instance": "b:1"}, 0.0),
        ({"__name__": "up", "job": "kube", "instance": "c:1"}, 3.0),
    ]))  # fmt: skip
    result = prometheus_query.invoke(deps_for(prom.url, tmp_path), {"query": "up"})
    assert result.status == "ok"
    lines = result.text.splitlines()
    assert 'common labels: up{job="kube"}' in lines
    series = [line for line in lines if line.startswith("- ")]
    assert series == ['- {instance="c:1"}: 3', '- {instance="a:1"}: 1', '- {instance="b:1"}: 0']
    assert result.data[0]["labels"]["instance"] == "c:1"


def test_instant_query_caps_series_and_says_so(prom: FakeBackend, tmp_path: Path) -> None:
    prom.route("/api/v1/query", vector([({"pod": f"p{i}"}, float(i)) for i in range(50)]))
    result = prometheus_query.invoke(deps_for(prom.url, tmp_path), {"query": "x"})
    assert "showing top 20 of 50" in result.text
    assert len(result.data) == 50


def test_bad_promql_returns_prometheus_error_and_a_hint(prom: FakeBackend, tmp_path: Path) -> None:
    prom.route("/api/v1/query", bad_query("1:6: parse error: ranges only allowed for vector selectors"))
    result = prometheus_query.invoke(deps_for(prom.url, tmp_path), {"query": "rate(http_requests_total)"})
    assert result.status == "error"
    assert "ranges only allowed for vector selectors" in result.text
    assert "HTTP 400" in result.text
    assert "range selector such as metric[5m]" in result.text


def test_unreachable_prometheus_is_a_clear_error(tmp_path: Path) -> None:
    url = closed_port_url()
    result = prometheus_query.invoke(deps_for(url, tmp_path), {"query": "up"})
    assert result.status == "error"
    assert f"cannot reach Prometheus at {url}" in result.text


def test_slow_prometheus_times_out_with_a_clear_error(prom: FakeBackend, tmp_path: Path) -> None:
    prom.route("/api/v1/query", vector([]))
    prom.delay_s = 3.0
    result = prometheus_query.invoke(deps_for(prom.url, tmp_path, timeout=0.3), {"query": "up"})
    assert result.status == "error"
    assert "did not answer" in result.text and "timeout" in result.text


def test_prometheus_not_configured(tmp_path: Path) -> None:
    result = prometheus_query.invoke(Deps(raw_dir=tmp_path), {"query": "up"})
    assert result.status == "error"
    assert "DEVOPS_AGENT_PROMETHEUS_URL" in result.text


def test_empty_result_is_no_data(prom: FakeBackend, tmp_path: Path) -> None:
    prom.route("/api/v1/query", vector([]))
    assert prometheus_query.invoke(deps_for(prom.url, tmp_path), {"query": "nope"}).status == "no_data"


def test_range_query_summarises_each_series_and_flags_departure(prom: FakeBackend, tmp_path: Path) -> None:
    calm = [1.0] * 30
    spike = [1.0] * 24 + [9.0] * 6
    prom.route(
        "/api/v1/query_range",
        matrix([({"service": "api", "code": "500"}, spike), ({"service": "web", "code": "500"}, calm)]),
    )
    result = prometheus_range_query.invoke(
        deps_for(prom.url, tmp_path), {"query": "rate(x[1m])", "minutes": 60}
    )
    assert result.status == "ok"
    lines = result.text.splitlines()
    first = next(line for line in lines if line.startswith("- "))
    assert first.startswith('- {service="api"}') and "departs from baseline 1" in first and "max 9" in first
    assert any(line.startswith('- {service="web"}') and "flat" in line for line in lines)
    assert 'common labels: {code="500"}' in lines
    step = prom.requests[-1][1]["step"][0]
    assert step == auto_step(60) == "30s"


def test_auto_step_keeps_at_most_120_points() -> None:
    for minutes in (1, 5, 30, 60, 360, 1440):
        seconds = int(auto_step(minutes)[:-1])
        assert minutes * 60 / seconds <= 120
        assert seconds >= 5


def test_large_result_is_truncated_and_saved_raw(prom: FakeBackend, tmp_path: Path) -> None:
    series = [
        ({"pod": f"pod-with-a-rather-long-name-{i}", "container": f"c{i}"}, [float(i)] * 10)
        for i in range(40)
    ]
    prom.route("/api/v1/query_range", matrix(series))
    result = prometheus_range_query.invoke(deps_for(prom.url, tmp_path, budget=200), {"query": "x"})
    assert result.truncated
    assert "[truncated: showing the first" in result.text
    assert result.raw_path and Path(result.raw_path).read_text().count("pod-with-a-rather-long-name") == 40


def test_alerts_filtered_by_state(prom: FakeBackend, tmp_path: Path) -> None:
    prom.route("/api/v1/alerts", ok({"alerts": [
        {"labels": {"alertname": "HighErrors", "service": "api"}, "state": "firing", "activeAt": "2026-01-01T00:00:00Z",
         "annotations": {"summary": "5xx above 5%"}, "value": "0.3"},
        {"labels": {"alertname": "SlowPods", "service": "web"}, "state": "pending", "activeAt": "2026-01-01T00:00:00Z"},
    ]}))  # fmt: skip
    deps = deps_for(prom.url, tmp_path)
    firing = prometheus_alerts.invoke(deps, {})
    assert [a["alertname"] for a in firing.data] == ["HighErrors"]
    assert "5xx above 5%" in firing.text
    everything = prometheus_alerts.invoke(deps, {"state": "all"})
    assert [a["alertname"] for a in everything.data] == ["HighErrors", "SlowPods"]
    assert prometheus_alerts.invoke(deps, {"state": "bogus"}).status == "error"


def test_rules_show_queries(prom: FakeBackend, tmp_path: Path) -> None:
    prom.route("/api/v1/rules", ok({"groups": [{"name": "svc", "rules": [
        {"name": "HighErrors", "type": "alerting", "query": "errors > 0.05", "state": "firing", "duration": 15},
        {"name": "svc:rate1m", "type": "recording", "query": "sum(rate(x[1m]))"},
    ]}]}))  # fmt: skip
    result = prometheus_rules.invoke(deps_for(prom.url, tmp_path), {"kind": "alert"})
    assert [r["name"] for r in result.data] == ["HighErrors"]
    assert "errors > 0.05" in result.text


def test_metric_names_by_prefix_capped(prom: FakeBackend, tmp_path: Path) -> None:
    names = [f"http_metric_{i:02d}" for i in range(30)] + ["kube_pod_info"]
    prom.route("/api/v1/label/__name__/values", ok(names))
    result = prometheus_metric_names.invoke(deps_for(prom.url, tmp_path), {"prefix": "http_", "limit": 5})
    assert "30 metrics match 'http_'; showing 5" in result.text
    assert "kube_pod_info" not in result.text
    assert (
        prometheus_metric_names.invoke(deps_for(prom.url, tmp_path), {"prefix": "nothing_"}).status
        == "no_data"
    )


def test_labels_of_a_metric(prom: FakeBackend, tmp_path: Path) -> None:
    prom.route("/api/v1/series", ok([{"__name__": "m", "service": s, "code": "200"} for s in ("api", "web")]))
    result = prometheus_labels.invoke(deps_for(prom.url, tmp_path), {"metric": "m"})
    assert result.data["service"] == ["api", "web"]
    assert "service (2): api, web" in result.text


def test_targets_down_first(prom: FakeBackend, tmp_path: Path) -> None:
    prom.route("/api/v1/targets", ok({"activeTargets": [
        {"scrapePool": "ok-job", "scrapeUrl": "http://a/metrics", "health": "up"},
        {"scrapePool": "bad-job", "scrapeUrl": "http://b/metrics", "health": "down", "lastError": "connection refused"},
    ]}))  # fmt: skip
    result = prometheus_targets.invoke(deps_for(prom.url, tmp_path), {})
    assert result.data[0]["job"] == "bad-job"
    assert "2 targets, 1 not up" in result.text
