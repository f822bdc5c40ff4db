"""Unwrapped range functions, set operators, vector matching and the richer pipeline stages."""

from __future__ import annotations

import math
import statistics

import pytest
from fakes.loki_logs import CACHE, END, SECOND, T0, at, line_at, make_store

from sandbox.logs import LogStore
from sandbox.loki.engine import Engine, StreamsResult, VectorResult
from sandbox.loki.errors import LokiError, PipelineError

PREDICTOR_LATENCY = "logfmt | unwrap duration(latency)"
APP = (("app", "predictor"),)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(make_store())


def vector_of(engine: Engine, query: str) -> dict[tuple[tuple[str, str], ...], float]:
    result = engine.instant(query, END)
    assert isinstance(result, VectorResult)
    return {tuple(sorted(labels.items())): value for labels, value in result.samples}


def lines_of(engine: Engine, query: str) -> list[str]:
    result = engine.range(query, T0, END, SECOND)
    assert isinstance(result, StreamsResult)
    return [line for _, line in sorted((e for _, v in result.streams for e in v), reverse=True)]


# predictor latencies: 20ms, 800ms, 2s; sizes: 10KB, 2MB, 512B
@pytest.mark.parametrize(
    ("func", "unwrap", "expected"),
    [
        ("sum_over_time", PREDICTOR_LATENCY, 2.82),
        ("avg_over_time", PREDICTOR_LATENCY, 0.94),
        ("max_over_time", "logfmt | unwrap bytes(size)", 2_000_000),
        ("min_over_time", "logfmt | unwrap bytes(size)", 512),
        ("first_over_time", PREDICTOR_LATENCY, 0.02),
        ("last_over_time", PREDICTOR_LATENCY, 2.0),
        ("stddev_over_time", PREDICTOR_LATENCY, statistics.pstdev([0.02, 0.8, 2.0])),
        ("stdvar_over_time", PREDICTOR_LATENCY, statistics.pvariance([0.02, 0.8, 2.0])),
        ("rate", PREDICTOR_LATENCY, 0.282),
    ],
)
def test_unwrapped_range_functions(engine: Engine, func: str, unwrap: str, expected: float) -> None:
    got = vector_of(engine, f'{func}({{app="predictor"}} | {unwrap} [10s]) by (app)')
    assert got.keys() == {APP}
    assert math.isclose(got[APP], expected)


def test_quantile_over_time_interpolates(engine: Engine) -> None:
    query = f'quantile_over_time({{phi}}, {{{{app="predictor"}}}} | {PREDICTOR_LATENCY} [10s]) by (app)'
    assert vector_of(engine, query.format(phi=0.5)) == {APP: 0.8}
    assert math.isclose(vector_of(engine, query.format(phi=0.75))[APP], 1.4)


def test_unwrap_removes_the_label_and_keeps_the_others(engine: Engine) -> None:
    got = vector_of(engine, f'max_over_time({{app="predictor"}} | {PREDICTOR_LATENCY} [10s])')
    assert len(got) == 3
    assert all("latency" not in dict(key) and "level" in dict(key) for key in got)


def test_unwrap_of_a_non_number_is_a_pipeline_error_unless_filtered(engine: Engine) -> None:
    with pytest.raises(PipelineError, match="SampleExtractionErr"):
        vector_of(engine, 'sum_over_time({app="predictor"} | logfmt | unwrap msg [10s])')
    assert (
        vector_of(engine, 'sum_over_time({app="predictor"} | logfmt | unwrap msg | __error__="" [10s])') == {}
    )


def test_outer_by_limits_what_the_parser_extracts(engine: Engine) -> None:
    # Loki's label hints: under sum by (level), msg and size never become series labels
    got = vector_of(engine, 'count(count_over_time({app="predictor"} | logfmt [10s])) by (level)')
    assert got == {(("level", "error"),): 1, (("level", "info"),): 1, (("level", "warn"),): 1}


def test_absent_over_time(engine: Engine) -> None:
    assert vector_of(engine, 'absent_over_time({app="nope", pod=~"x.*"}[10s])') == {(("app", "nope"),): 1}
    assert vector_of(engine, 'absent_over_time({app="cache"}[10s])') == {}


def test_or_vector_fills_in_no_data(engine: Engine) -> None:
    assert vector_of(engine, 'sum(count_over_time({app="nope"}[10s])) or vector(0)') == {(): 0}
    assert vector_of(engine, 'sum(count_over_time({app="cache"}[10s])) or vector(0)') == {(): 2}


def test_and_unless_on(engine: Engine) -> None:
    left = 'count_over_time({namespace="market-predictor"}[10s])'
    right = 'count_over_time({app="cache"}[10s])'
    assert {dict(k)["app"] for k in vector_of(engine, f"{left} and on (app) {right}")} == {"cache"}
    assert {dict(k)["app"] for k in vector_of(engine, f"{left} unless on (app) {right}")} == {
        "api-gateway",
        "predictor",
    }


def test_arithmetic_with_on_and_ignoring(engine: Engine) -> None:
    errors = 'sum by (app, namespace) (count_over_time({app="api-gateway"} |= "error" [10s]))'
    total = 'sum by (app) (count_over_time({app="api-gateway", namespace="market-predictor"}[10s]))'
    assert vector_of(engine, f"{errors} / on (app) {total}") == {(("app", "api-gateway"),): 0.4}
    assert vector_of(engine, f"{errors} / ignoring (namespace) {total}") == {(("app", "api-gateway"),): 0.4}


def test_many_to_many_is_refused(engine: Engine) -> None:
    with pytest.raises(LokiError, match="found duplicate series for the match group"):
        vector_of(engine, 'count_over_time({namespace="market-predictor"}[10s]) / on (namespace) vector(1)')


def test_pattern_parser(engine: Engine) -> None:
    assert lines_of(engine, '{app="cache"} | pattern "<first> <_>" | first="OOM"') == [line_at(6)]
    result = engine.range('{app="predictor"} | pattern "level=<level> msg=<_>"', T0, END, SECOND)
    assert isinstance(result, StreamsResult)
    assert sorted(labels["level"] for labels, _ in result.streams) == ["error", "info", "warn"]


def test_label_format_renames_and_renders(engine: Engine) -> None:
    query = (
        '{app="predictor"} | logfmt | label_format severity=level, summary="{{.level}}!" '
        '| line_format "{{.severity}} {{.summary}} {{.level}}"'
    )
    assert lines_of(engine, query) == [
        "error error! <no value>",
        "warn warn! <no value>",
        "info info! <no value>",
    ]


def test_json_parameters_pick_paths(engine: Engine) -> None:
    query = '{app="api-gateway"} | json method="http.method", level | __error__="" | line_format "{{.method}} {{.level}}"'
    # the staging line has no http object: its method renders as a missing label
    assert lines_of(engine, query) == ["GET error", "GET info", "POST error", "<no value> info", "GET info"]


def test_logfmt_parameters(engine: Engine) -> None:
    assert lines_of(engine, '{app="predictor"} | logfmt sev="level" | sev="warn"') == [line_at(2.5)]


def test_decolorize_strips_ansi_codes() -> None:
    store = LogStore()
    store.append(CACHE, "\x1b[31mERROR\x1b[0m disk full", at(1))
    result = Engine(store).range('{app="cache"} | decolorize', T0, END, SECOND)
    assert isinstance(result, StreamsResult)
    assert result.streams[0][1] == [(at(1), "ERROR disk full")]


def test_go_style_named_groups_are_accepted(engine: Engine) -> None:
    assert lines_of(engine, '{app="cache"} | regexp `^(?<first>\\w+)` | first="OOM"') == [line_at(6)]
