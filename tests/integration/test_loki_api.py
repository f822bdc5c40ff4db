"""The Loki HTTP API stand-in, spoken to over HTTP exactly as a Loki client would."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fakes.loki_logs import CACHE, END, GATEWAY, PREDICTOR, SECOND, T0, at, line_at, make_store

from sandbox.loki import LokiServer, start_loki


@pytest.fixture(scope="module")
def loki() -> Iterator[LokiServer]:
    server = start_loki(make_store())
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture()
def client(loki: LokiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=loki.url, timeout=10) as c:
        yield c


def query_range(client: httpx.Client, query: str, **params: str | int) -> httpx.Response:
    return client.get("/loki/api/v1/query_range", params={"query": query, "start": T0, "end": END, **params})


def test_server_binds_loopback_on_a_free_port(loki: LokiServer) -> None:
    assert loki.url == f"http://127.0.0.1:{loki.port}"
    assert loki.port > 0


def test_ready(client: httpx.Client) -> None:
    r = client.get("/ready")
    assert (r.status_code, r.text) == (200, "ready\n")


def test_log_query_range_answers_in_lokis_stream_format(client: httpx.Client) -> None:
    r = query_range(client, '{app="cache"}')
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "streams"
    assert body["data"]["result"] == [
        {"stream": CACHE, "values": [[str(at(6)), line_at(6)], [str(at(0.5)), line_at(0.5)]]}
    ]
    summary = body["data"]["stats"]["summary"]
    assert summary["totalLinesProcessed"] == 2
    assert summary["totalEntriesReturned"] == 2


def test_limit_and_forward_direction(client: httpx.Client) -> None:
    r = query_range(client, '{namespace="market-predictor"}', limit=2, direction="forward")
    result = r.json()["data"]["result"]
    assert sorted((s["stream"]["app"], s["values"][0][1]) for s in result) == [
        ("api-gateway", line_at(1)),
        ("cache", line_at(0.5)),
    ]


def test_default_limit_is_100_and_direction_backward() -> None:
    store = make_store()
    for i in range(150):
        store.append({"app": "bulk"}, f"line {i}", at(7) + i)
    server = start_loki(store)
    try:
        r = httpx.get(
            f"{server.url}/loki/api/v1/query_range", params={"query": '{app="bulk"}', "start": T0, "end": END}
        )
    finally:
        server.shutdown()
    [stream] = r.json()["data"]["result"]
    assert len(stream["values"]) == 100
    assert stream["values"][0][1] == "line 149"


def test_json_pipeline_with_label_filter_and_line_format(client: httpx.Client) -> None:
    query = '{app="api-gateway"} | json | __error__="" | status >= 500 | line_format "{{.status}} {{.msg}}"'
    result = query_range(client, query).json()["data"]["result"]
    lines = sorted(v[1] for s in result for v in s["values"])
    assert lines == ["502 upstream connection refused", "504 timeout calling predictor"]
    assert all(s["stream"]["level"] == "error" for s in result)


def test_instant_metric_query_is_a_vector(client: httpx.Client) -> None:
    r = client.get(
        "/loki/api/v1/query",
        params={"query": 'sum by (app) (count_over_time({namespace="market-predictor"}[10s]))', "time": END},
    )
    data = r.json()["data"]
    assert data["resultType"] == "vector"
    assert data["result"] == [
        {"metric": {"app": "api-gateway"}, "value": [END // SECOND, "5"]},
        {"metric": {"app": "cache"}, "value": [END // SECOND, "2"]},
        {"metric": {"app": "predictor"}, "value": [END // SECOND, "3"]},
    ]


@pytest.mark.parametrize(
    ("query", "value"),
    [
        ('count_over_time({app="cache"}[10s]) / 4', "0.5"),
        ('count_over_time({app="cache"}[10s]) / 200000', "0.00001"),
        ('count_over_time({app="cache"}[10s]) / 0', "+Inf"),
    ],
)
def test_values_are_formatted_like_go(client: httpx.Client, query: str, value: str) -> None:
    r = client.get("/loki/api/v1/query", params={"query": query, "time": END})
    assert r.json()["data"]["result"] == [{"metric": CACHE, "value": [END // SECOND, value]}]


def test_range_metric_query_is_a_matrix(client: httpx.Client) -> None:
    r = client.get(
        "/loki/api/v1/query_range",
        params={
            "query": 'topk(1, sum by (app) (count_over_time({app=~".+"}[3s])))',
            "start": at(2),
            "end": at(6),
            "step": "2s",
        },
    )
    data = r.json()["data"]
    assert data["resultType"] == "matrix"
    t = T0 // SECOND
    assert data["result"] == [
        {"metric": {"app": "api-gateway"}, "values": [[t + 2, "3"], [t + 4, "4"], [t + 6, "2"]]}
    ]


def test_times_in_rfc3339_and_float_seconds(client: httpx.Client) -> None:
    for start, end in [
        ("2023-11-14T22:13:20Z", "2023-11-14T22:13:30.000Z"),
        (f"{T0 // SECOND}.0", f"{END // SECOND}"),
    ]:
        r = client.get(
            "/loki/api/v1/query_range", params={"query": '{app="cache"}', "start": start, "end": end}
        )
        assert r.status_code == 200, r.text
        assert len(r.json()["data"]["result"][0]["values"]) == 2


def test_post_form_body_is_accepted(client: httpx.Client) -> None:
    r = client.post(
        "/loki/api/v1/query_range",
        data={"query": '{app="predictor"} |= "too many"', "start": str(T0), "end": str(END)},
    )
    assert r.status_code == 200
    assert r.json()["data"]["result"][0]["values"][0][1] == line_at(3.5)


def test_labels_values_and_series(client: httpx.Client) -> None:
    window = {"start": T0, "end": END}
    labels = client.get("/loki/api/v1/labels", params=window).json()
    assert labels == {"status": "success", "data": ["app", "container", "namespace", "pod"]}
    values = client.get("/loki/api/v1/label/app/values", params=window).json()
    assert values["data"] == ["api-gateway", "cache", "predictor"]
    scoped = client.get(
        "/loki/api/v1/label/pod/values", params={**window, "query": '{app="api-gateway"}'}
    ).json()
    assert scoped["data"] == ["api-gateway-1", "api-gateway-s1"]
    series = client.get(
        "/loki/api/v1/series",
        params=[("match[]", '{app="predictor"}'), ("match[]", '{app="cache"}'), ("start", T0), ("end", END)],
    ).json()
    assert series == {"status": "success", "data": [CACHE, PREDICTOR]}


def test_push_then_query(client: httpx.Client) -> None:
    payload = {"streams": [{"stream": {"app": "pushed"}, "values": [[str(at(8)), "pushed line"]]}]}
    assert client.post("/loki/api/v1/push", json=payload).status_code == 204
    r = query_range(client, '{app="pushed"}')
    assert r.json()["data"]["result"] == [
        {"stream": {"app": "pushed"}, "values": [[str(at(8)), "pushed line"]]}
    ]


@pytest.mark.parametrize(
    ("query", "body_start"),
    [
        ('{app="api"', "parse error at line 1, col 11: syntax error: unexpected $end"),
        ('{app="api"} | unpack', "parse error at line 1, col 15: the 'unpack' stage is not supported"),
        (
            'rate_counter({app="api"} | logfmt | unwrap n [5m])',
            "parse error at line 1, col 1: the function 'rate_counter'",
        ),
        ('sum_over_time({app="api"}[5m])', "parse error : invalid aggregation sum_over_time without unwrap"),
        ('{app=~".*"}', "parse error : queries require at least one regexp or equality matcher"),
        (
            'count_over_time({app="api-gateway", namespace="market-predictor"} | json [10s])',
            "pipeline error: 'JSONParserErr' for series:",
        ),
    ],
)
def test_refused_queries_are_400_with_a_plain_text_body(
    client: httpx.Client, query: str, body_start: str
) -> None:
    for path in ("/loki/api/v1/query_range", "/loki/api/v1/query"):
        r = client.get(path, params={"query": query, "start": T0, "end": END, "time": END})
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("text/plain")
        assert r.text.startswith(body_start)
        assert r.text.endswith("\n")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query": '{app="cache"}', "limit": "0"}, "limit must be a positive value"),
        ({"query": '{app="cache"}', "limit": "10000"}, "max entries limit per query exceeded"),
        ({"query": '{app="cache"}', "start": END, "end": T0}, "end timestamp must not be before"),
        ({"query": '{app="cache"}', "end": "yesterday"}, "could not parse 'end' parameter"),
        ({"query": '{app="cache"}', "direction": "sideways"}, "invalid direction"),
        ({"query": 'rate({app="cache"}[1m])', "step": "0"}, "zero or negative query resolution step"),
        ({}, "query parameter is required"),
    ],
)
def test_bad_parameters_are_400(client: httpx.Client, params: dict[str, str | int], message: str) -> None:
    r = client.get("/loki/api/v1/query_range", params=params)
    assert r.status_code == 400
    assert message in r.text


def test_series_needs_a_matcher(client: httpx.Client) -> None:
    r = client.get("/loki/api/v1/series")
    assert r.status_code == 400
    assert "match[]" in r.text


def test_unknown_path_is_404(client: httpx.Client) -> None:
    assert client.get("/loki/api/v1/nope").status_code == 404


def test_shutdown_frees_the_port() -> None:
    server = start_loki(make_store())
    url = server.url
    server.shutdown()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/ready", timeout=2)


def test_gateway_stream_labels_round_trip(client: httpx.Client) -> None:
    r = query_range(client, '{pod="api-gateway-1"} |= "Traceback"')
    assert r.json()["data"]["result"] == [{"stream": GATEWAY, "values": [[str(at(5)), line_at(5)]]}]
