"""The LogQL evaluator on a fixed set of lines with known answers (see ``fakes/loki_logs.py``)."""

from __future__ import annotations

import math

import pytest
from fakes.loki_logs import CACHE, END, GATEWAY, PREDICTOR, SECOND, STAGING, T0, at, line_at, make_store

from sandbox.logs import LogStore
from sandbox.loki.engine import Engine, MatrixResult, ScalarResult, StreamsResult, VectorResult
from sandbox.loki.errors import LimitError, LokiError, PipelineError


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(make_store())


def lines_of(engine: Engine, query: str, *, limit: int = 100, direction: str = "backward") -> list[str]:
    """Every returned line, newest first, across streams."""
    result = engine.range(query, T0, END, SECOND, limit=limit, direction=direction)  # type: ignore[arg-type]
    assert isinstance(result, StreamsResult)
    entries = [entry for _, values in result.streams for entry in values]
    return [line for _, line in sorted(entries, reverse=True)]


def vector_of(engine: Engine, query: str) -> dict[tuple[tuple[str, str], ...], float]:
    result = engine.instant(query, END)
    assert isinstance(result, VectorResult)
    return {tuple(sorted(labels.items())): value for labels, value in result.samples}


# ---------------------------------------------------------------- log queries
LOG_QUERIES = [
    # stream selectors, each operator
    ('{app="api-gateway"}', [5, 4, 3, (2, STAGING), (2, GATEWAY), 1]),
    ('{app="api-gateway", namespace!="market-predictor"}', [(2, STAGING)]),
    ('{app=~"api.*|cache"}', [6, 5, 4, 3, (2, STAGING), (2, GATEWAY), 1, 0.5]),
    ('{app=~"api"}', []),  # anchored: "api" does not match "api-gateway"
    ('{namespace="market-predictor", app!~"api.*|predictor"}', [6, 0.5]),
    # line filters, each operator, and chained
    ('{namespace="market-predictor"} |= "connection"', [3.5, 2, 0.5]),
    ('{namespace="market-predictor"} != "level"', [6, 5, 0.5]),
    ('{namespace="market-predictor"} |~ "(?i)oom|timeout"', [6, 4]),
    ('{namespace="market-predictor"} !~ "info|Ready"', [6, 5, 4, 3.5, 2.5, 2]),
    ('{app="api-gateway"} |= "GET" != "health"', [4, (2, STAGING), 1]),
    ('{namespace="market-predictor"} |= "refused" or "OOM"', [6, 2]),
    # json and label filters
    ('{namespace="market-predictor", app="api-gateway"} | json | __error__="" | status >= 500', [4, 2]),
    # (a line the parser failed on passes every label filter but one on __error__, as in Loki)
    ('{app="api-gateway"} | json | http_method="POST"', [5, 2]),
    ('{app="api-gateway"} | json | __error__="" | http_method="POST"', [2]),
    ('{namespace="market-predictor", app="api-gateway"} | json | level="error" and duration > 2s', [5, 4]),
    ('{app="api-gateway"} | json | level="info", status=200, msg=~"GET /p.*"', [5, (2, STAGING), 1]),
    ('{app="api-gateway"} | json | __error__!=""', [5]),
    # logfmt and label filters: duration, bytes, or
    ('{app="predictor"} | logfmt | latency > 500ms', [3.5, 2.5]),
    ('{app="predictor"} | logfmt | size > 1MB', [2.5]),
    ('{app="predictor"} | logfmt | level="error" or level="warn"', [3.5, 2.5]),
    ('{app="predictor"} | logfmt | (level="info" or latency >= 2s) and size < 1KB', [3.5]),
    # regexp
    ('{app="cache"} | regexp `^(?P<word>\\w+)` | word="OOM"', [6]),
]


@pytest.mark.parametrize(("query", "expected"), LOG_QUERIES)
def test_log_query_table(
    engine: Engine, query: str, expected: list[float | tuple[float, dict[str, str]]]
) -> None:
    want = [line_at(*e) if isinstance(e, tuple) else line_at(e) for e in expected]
    assert lines_of(engine, query) == want


def test_line_format_renders_labels_and_missing_ones(engine: Engine) -> None:
    got = lines_of(engine, '{app="predictor"} | logfmt | line_format "{{.level}}: {{ .msg }} {{.nope}}"')
    assert got == [
        "error: too many connections <no value>",
        "warn: slow feature fetch <no value>",
        "info: model loaded <no value>",
    ]


def test_parsers_split_streams_by_extracted_labels(engine: Engine) -> None:
    result = engine.range('{app="predictor"} | logfmt | drop latency, size', T0, END, SECOND)
    assert isinstance(result, StreamsResult)
    assert sorted(labels["level"] for labels, _ in result.streams) == ["error", "info", "warn"]
    assert all(set(labels) == {*PREDICTOR, "level", "msg"} for labels, _ in result.streams)


def test_keep_keeps_only_the_named_labels(engine: Engine) -> None:
    result = engine.range('{app="predictor"} | logfmt | keep level, app', T0, END, SECOND)
    assert isinstance(result, StreamsResult)
    assert {tuple(sorted(labels)) for labels, _ in result.streams} == {("app", "level")}


def test_json_clash_with_a_stream_label_gets_extracted_suffix() -> None:
    store = LogStore()
    store.append({"app": "api"}, '{"app": "inner", "nested": {"deep": {"key": 1.50}}, "list": [1]}', at(1))
    result = Engine(store).range('{app="api"} | json', T0, END, SECOND)
    assert isinstance(result, StreamsResult)
    [(labels, _)] = result.streams
    assert labels == {"app": "api", "app_extracted": "inner", "nested_deep_key": "1.50"}


def test_lines_failing_a_parser_carry_error_labels_and_pass_label_filters(engine: Engine) -> None:
    result = engine.range(
        '{namespace="market-predictor", app="api-gateway"} | json | status >= 500', T0, END, SECOND
    )
    assert isinstance(result, StreamsResult)
    errored = [(labels, values) for labels, values in result.streams if "__error__" in labels]
    assert [values for _, values in errored] == [[(at(5), line_at(5))]]
    assert errored[0][0]["__error__"] == "JSONParserErr"


# ---------------------------------------------------------------- limit and direction
def test_limit_backward_returns_newest(engine: Engine) -> None:
    assert lines_of(engine, '{namespace="market-predictor"}', limit=2) == [line_at(6), line_at(5)]


def test_limit_forward_returns_oldest_in_ascending_order(engine: Engine) -> None:
    result = engine.range('{namespace="market-predictor"}', T0, END, SECOND, limit=2, direction="forward")
    assert isinstance(result, StreamsResult)
    assert [(labels["app"], values) for labels, values in result.streams] == [
        ("api-gateway", [(at(1), line_at(1))]),
        ("cache", [(at(0.5), line_at(0.5))]),
    ]


def test_backward_streams_list_entries_newest_first(engine: Engine) -> None:
    result = engine.range('{app="cache"}', T0, END, SECOND)
    assert isinstance(result, StreamsResult)
    [(_, values)] = result.streams
    assert [ts for ts, _ in values] == [at(6), at(0.5)]


def test_range_is_half_open(engine: Engine) -> None:
    result = engine.range('{app="cache"}', at(0.5), at(6), SECOND)
    assert isinstance(result, StreamsResult)
    assert [ts for _, values in result.streams for ts, _ in values] == [at(0.5)]


# ---------------------------------------------------------------- metric queries
GW = tuple(sorted(GATEWAY.items()))
PRED = tuple(sorted(PREDICTOR.items()))
CA = tuple(sorted(CACHE.items()))
STG = tuple(sorted(STAGING.items()))

METRIC_QUERIES: list[tuple[str, dict[tuple[tuple[str, str], ...], float]]] = [
    ('count_over_time({namespace="market-predictor"}[10s])', {GW: 5, PRED: 3, CA: 2}),
    (
        'sum by (app) (count_over_time({app=~".+"}[10s]))',
        {(("app", "api-gateway"),): 6, (("app", "predictor"),): 3, (("app", "cache"),): 2},
    ),
    ('sum(rate({namespace="market-predictor"} |= "error" [10s]))', {(): 0.3}),
    ('bytes_over_time({app="cache"}[10s])', {CA: len(line_at(0.5)) + len(line_at(6).encode())}),
    ('bytes_rate({app="cache"}[10s])', {CA: (len(line_at(0.5)) + len(line_at(6).encode())) / 10}),
    ('topk(1, sum by (app) (count_over_time({app=~".+"}[10s])))', {(("app", "api-gateway"),): 6}),
    ('bottomk(1, sum by (app) (count_over_time({app=~".+"}[10s])))', {(("app", "cache"),): 2}),
    (
        'sum by (level) (count_over_time({app="api-gateway"} | json | __error__="" [10s]))',
        {(("level", "info"),): 3, (("level", "error"),): 2},
    ),
    ('count(count_over_time({namespace="market-predictor"}[10s]))', {(): 3}),
    ('max(count_over_time({namespace="market-predictor"}[10s]))', {(): 5}),
    ('min(count_over_time({namespace="market-predictor"}[10s]))', {(): 2}),
    ('avg(count_over_time({namespace="market-predictor"}[10s]))', {(): 10 / 3}),
    (
        'sum without (pod, container) (count_over_time({app="api-gateway"}[10s]))',
        {
            (("app", "api-gateway"), ("namespace", "market-predictor")): 5,
            (("app", "api-gateway"), ("namespace", "market-predictor-staging")): 1,
        },
    ),
    (
        'sum(count_over_time({namespace="market-predictor"} |= "error" [10s])) '
        '/ sum(count_over_time({namespace="market-predictor"}[10s]))',
        {(): 0.3},
    ),
    (
        'sum by (app) (count_over_time({app=~".+"}[10s])) > 2',
        {(("app", "api-gateway"),): 6, (("app", "predictor"),): 3},
    ),
    (
        'sum by (app) (count_over_time({app=~".+"}[10s])) > bool 2',
        {(("app", "api-gateway"),): 1, (("app", "predictor"),): 1, (("app", "cache"),): 0},
    ),
    ('count_over_time({app="cache"}[5s] offset 5s)', {CA: 1}),
    ('count_over_time({app="api-gateway", namespace="market-predictor-staging"}[10s]) * 2 - 1', {STG: 1}),
]


@pytest.mark.parametrize(("query", "expected"), METRIC_QUERIES)
def test_instant_metric_query_table(
    engine: Engine, query: str, expected: dict[tuple[tuple[str, str], ...], float]
) -> None:
    got = vector_of(engine, query)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert math.isclose(got[key], value), (key, got[key], value)


def test_topk_orders_the_instant_vector_by_value(engine: Engine) -> None:
    result = engine.instant('topk(3, sum by (app) (count_over_time({app=~".+"}[10s])))', END)
    assert isinstance(result, VectorResult)
    assert [value for _, value in result.samples] == [6, 3, 2]


def test_scalar_arithmetic_is_a_scalar(engine: Engine) -> None:
    result = engine.instant("1 + 2 * 3", END)
    assert isinstance(result, ScalarResult)
    assert result.value == 7


def test_range_metric_query_is_a_matrix_with_one_point_per_step(engine: Engine) -> None:
    result = engine.range(
        'sum(count_over_time({namespace="market-predictor"}[2s]))', at(2), at(6), 2 * SECOND
    )
    assert isinstance(result, MatrixResult)
    assert result.series == [({}, [(at(2), 4.0), (at(4), 4.0), (at(6), 2.0)])]


def test_steps_without_samples_have_no_point(engine: Engine) -> None:
    result = engine.range('count_over_time({app="cache"}[2s])', at(1), at(7), 2 * SECOND)
    assert isinstance(result, MatrixResult)
    [(_, points)] = result.series
    # cache lines at 0.5s and 6s: windows (-1s, 1s] and (5s, 7s] hold one each, the others none
    assert points == [(at(1), 1.0), (at(7), 1.0)]


def test_metric_query_over_unparsable_lines_is_a_pipeline_error(engine: Engine) -> None:
    with pytest.raises(PipelineError, match="pipeline error: 'JSONParserErr'"):
        engine.instant('count_over_time({namespace="market-predictor", app="api-gateway"} | json [10s])', END)


def test_too_many_series_is_a_limit_error() -> None:
    store = LogStore()
    for i in range(6):
        store.append({"app": "api", "pod": f"p{i}"}, "x", at(1))
    with pytest.raises(LimitError, match=r"maximum number of series \(5\)"):
        Engine(store, max_series=5).instant('count_over_time({app="api"}[10s])', END)


def test_too_many_points_is_refused(engine: Engine) -> None:
    with pytest.raises(LimitError, match="11,000 points"):
        engine.range('count_over_time({app="api"}[1s])', T0, T0 + 20_000 * SECOND, SECOND)


def test_scalar_comparison_needs_bool(engine: Engine) -> None:
    with pytest.raises(LokiError, match="BOOL"):
        engine.instant("1 > 2", END)


def test_division_by_zero_follows_float_semantics(engine: Engine) -> None:
    result = engine.instant('count_over_time({app="cache"}[10s]) / 0', END)
    assert isinstance(result, VectorResult)
    assert result.samples[0][1] == math.inf


def test_queries_over_100k_lines_answer(engine: Engine) -> None:
    store = LogStore(max_lines_per_stream=50_000)
    for i in range(100_000):
        level = "error" if i % 10 == 0 else "info"
        store.append({"app": "api", "pod": f"p{i % 2}"}, f'{{"level":"{level}","n":{i}}}', at(1) + i)
    big = Engine(store)
    got = vector_of(big, 'sum by (level) (count_over_time({app="api"} | json [1m]))')
    assert got == {(("level", "error"),): 10_000, (("level", "info"),): 90_000}
    assert len(lines_of(big, '{app="api"} |= "error"', limit=1000)) == 1000
