"""Loki tools against a scripted HTTP server: lines, patterns, labels, and failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.observability import FakeBackend, closed_port_url, matrix, ok, streams

from tools.deps import Deps
from tools.loki import loki_labels, loki_patterns, loki_query

NS = 1_700_000_000 * 10**9


@pytest.fixture
def loki() -> Iterator[FakeBackend]:
    with FakeBackend() as backend:
        yield backend


def deps_for(url: str, tmp_path: Path, timeout: float = 5.0) -> Deps:
    return Deps(loki_url=url, http_timeout_s=timeout, raw_dir=tmp_path / "raw")


def burst() -> list[tuple[dict[str, str], list[tuple[int, str]]]]:
    api = [
        (
            NS + i * 10**9,
            f"upstream connect error: dial tcp 10.0.0.{i % 7}:5432: connect: connection refused after {i}ms",
        )
        for i in range(300)
    ]
    api += [(NS + i * 10**9 + 5, f"GET /predict 200 {i}ms") for i in range(200)]
    web = [(NS + i * 10**9, "user login failed: password=hunter2 rejected") for i in range(40)]
    return [({"app": "api", "namespace": "shop"}, api), ({"app": "web", "namespace": "shop"}, web)]


def test_query_returns_lines_oldest_first_with_differing_labels(loki: FakeBackend, tmp_path: Path) -> None:
    loki.route("/loki/api/v1/query_range", streams([
        ({"app": "api", "namespace": "shop"}, [(NS + 2, "second"), (NS + 1, "first")]),
        ({"app": "web", "namespace": "shop"}, [(NS + 3, "third")]),
    ]))  # fmt: skip
    result = loki_query.invoke(deps_for(loki.url, tmp_path), {"query": '{namespace="shop"}'})
    assert result.status == "ok"
    body = [line for line in result.text.splitlines() if line.startswith("22:")]
    assert [line.split(" ", 2)[2] for line in body] == ["first", "second", "third"]
    assert 'common labels: {namespace="shop"}' in result.text
    assert '{app="web"} third' in result.text
    params = loki.requests[-1][1]
    assert params["query"] == ['{namespace="shop"}'] and params["limit"] == ["100"]


def test_query_redacts_secrets_in_log_lines(loki: FakeBackend, tmp_path: Path) -> None:
    loki.route(
        "/loki/api/v1/query_range",
        streams([({"app": "web"}, [(NS, "login with password=hunter2 token=abc.def")])]),
    )
    result = loki_query.invoke(deps_for(loki.url, tmp_path), {"query": '{app="web"}'})
    assert "hunter2" not in result.text and "hunter2" not in str(result.data)
    assert "password=****" in result.text


def test_metric_query_is_summarised_like_prometheus(loki: FakeBackend, tmp_path: Path) -> None:
    loki.route("/loki/api/v1/query_range", matrix([({"app": "api"}, [1, 2, 3, 4])]))
    result = loki_query.invoke(
        deps_for(loki.url, tmp_path), {"query": 'sum by (app) (count_over_time({app="api"}[1m]))'}
    )
    assert result.status == "ok" and "last 4" in result.text


def test_patterns_fold_a_burst_into_a_few_templates(loki: FakeBackend, tmp_path: Path) -> None:
    loki.route("/loki/api/v1/query_range", streams(burst()))
    result = loki_patterns.invoke(deps_for(loki.url, tmp_path), {"query": '{namespace="shop"}'})
    assert result.status == "ok"
    counts = sorted((p["count"] for p in result.data), reverse=True)
    assert counts == [300, 200, 40]
    top = result.data[0]
    assert "connection refused" in top["template"]
    assert top["template"] != top["example"]  # the varying parts are masked
    assert top["first_ns"] == NS and top["last_ns"] == NS + 299 * 10**9
    assert "hunter2" not in result.text
    assert len(result.text) < 1500  # 540 lines in a few hundred tokens


def test_patterns_reject_metric_queries(loki: FakeBackend, tmp_path: Path) -> None:
    loki.route("/loki/api/v1/query_range", matrix([({"app": "api"}, [1])]))
    result = loki_patterns.invoke(
        deps_for(loki.url, tmp_path), {"query": 'sum(count_over_time({app="api"}[1m]))'}
    )
    assert result.status == "error" and "loki_query" in result.text


def test_bad_logql_returns_loki_error_and_a_hint(loki: FakeBackend, tmp_path: Path) -> None:
    loki.route(
        "/loki/api/v1/query_range", (400, "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER")
    )
    result = loki_query.invoke(deps_for(loki.url, tmp_path), {"query": "error"})
    assert result.status == "error"
    assert "parse error at line 1" in result.text and "stream selector" in result.text


def test_unreachable_loki(tmp_path: Path) -> None:
    url = closed_port_url()
    for tool, args in (
        (loki_query, {"query": '{a="b"}'}),
        (loki_patterns, {"query": '{a="b"}'}),
        (loki_labels, {}),
    ):
        result = tool.invoke(deps_for(url, tmp_path), args)
        assert result.status == "error" and f"cannot reach Loki at {url}" in result.text


def test_slow_loki_times_out(loki: FakeBackend, tmp_path: Path) -> None:
    loki.route("/loki/api/v1/labels", ok(["app"]))
    loki.delay_s = 3.0
    result = loki_labels.invoke(deps_for(loki.url, tmp_path, timeout=0.3), {})
    assert result.status == "error" and "did not answer within the timeout" in result.text


def test_labels_and_values(loki: FakeBackend, tmp_path: Path) -> None:
    loki.route("/loki/api/v1/labels", ok(["app", "namespace", "pod"]))
    loki.route("/loki/api/v1/label/app/values", ok(["api", "web"]))
    deps = deps_for(loki.url, tmp_path)
    assert loki_labels.invoke(deps, {}).data == ["app", "namespace", "pod"]
    assert loki_labels.invoke(deps, {"label": "app"}).text == "2 values of app: api, web"


def test_no_lines_is_no_data(loki: FakeBackend, tmp_path: Path) -> None:
    loki.route("/loki/api/v1/query_range", streams([]))
    assert loki_query.invoke(deps_for(loki.url, tmp_path), {"query": '{a="b"}'}).status == "no_data"
