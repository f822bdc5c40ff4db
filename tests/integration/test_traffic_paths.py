"""Networking, credentials, capacity and backends: each object change has its real symptom."""

from __future__ import annotations

import json

import pytest
from integration.test_traffic_fixture import NS, Cluster, build
from prometheus_client.parser import text_string_to_metric_families

from sandbox.metrics import metrics_targets

GW = f"/metrics/app/{NS}/api-gateway"
PRED = f"/metrics/app/{NS}/predictor"


@pytest.fixture
def cluster() -> Cluster:
    """The healthy platform, already serving (clients arrive once every service has served)."""
    c = build()
    c.run(2)
    return c


def _ratio(c: Cluster, service: str, prefix: str = "5") -> float:
    return c.http(service, prefix) / max(c.http(service), 1.0)


def _upstream(c: Cluster, service: str, upstream: str, result: str) -> float:
    return c.total(
        f"/metrics/app/{NS}/{service}", "upstream_requests_total", upstream=upstream, result=result
    )


def _json_lines(c: Cluster, app: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in c.lines(app) if line.startswith("{")]


def test_baseline_is_healthy_and_every_target_parses(cluster: Cluster) -> None:
    cluster.run(30)
    assert _ratio(cluster, "api-gateway") < 0.01
    assert 150 < cluster.http("api-gateway") / 30 < 400  # production edge load, requests/s
    assert _upstream(cluster, "api-gateway", "predictor", "ok") > 0
    assert _upstream(cluster, "api-gateway", "predictor", "refused") == 0
    for path, render in metrics_targets(cluster.store, cluster.traffic.metrics).items():
        families = list(text_string_to_metric_families(render().decode()))
        assert families, path
    count = cluster.total(GW, "http_request_duration_seconds_count")
    assert abs(count - cluster.http("api-gateway")) <= 3  # floors of the same accumulators


def test_broken_selector_means_connection_refused_and_503(cluster: Cluster) -> None:
    cluster.run(5)
    cluster.patch_service("predictor", lambda s: s["spec"].update(selector={"app": "predictor-v2"}))
    cluster.run(20)
    assert _upstream(cluster, "api-gateway", "predictor", "refused") > 1000
    assert cluster.http("api-gateway", "503") > 0.5 * cluster.http("api-gateway") * 20 / 25 * 0.8
    refused = [r for r in _json_lines(cluster, "api-gateway") if "connection refused" in str(r["msg"])]
    assert refused and refused[0]["level"] == "error" and refused[0]["upstream"] == "predictor:8000"


def test_fixing_the_selector_heals_within_seconds(cluster: Cluster) -> None:
    cluster.patch_service("predictor", lambda s: s["spec"].update(selector={"app": "nope"}))
    cluster.run(10)
    assert cluster.http("api-gateway", "503") > 1000
    cluster.patch_service("predictor", lambda s: s["spec"].update(selector={"app": "predictor"}))
    before = cluster.http("api-gateway", "503")
    cluster.run(10)
    assert cluster.http("api-gateway", "503") == before


def test_wrong_target_port_is_refused(cluster: Cluster) -> None:
    cluster.patch_service("predictor", lambda s: s["spec"]["ports"][0].update(targetPort=9999))
    cluster.run(15)
    assert _upstream(cluster, "api-gateway", "predictor", "refused") > 1000
    assert _ratio(cluster, "api-gateway", "503") > 0.5


def test_scaled_to_zero_callers_get_503(cluster: Cluster) -> None:
    cluster.remove_pods("predictor")
    cluster.run(15)
    assert _ratio(cluster, "api-gateway", "503") > 0.7
    assert cluster.traffic.runtime.usage(NS, "predictor-7d9f8-00000").rps == 0


def test_edge_service_without_endpoints_is_503_at_the_edge(cluster: Cluster) -> None:
    cluster.run(2)
    served = cluster.http("api-gateway", "2")
    cluster.remove_pods("api-gateway")
    cluster.run(10)
    assert cluster.http("api-gateway", "503") > 1000
    assert cluster.http("api-gateway", "2") == served


def test_clients_arrive_once_every_service_has_served() -> None:
    c = build()
    c.set_ready("feature-store", False)
    c.run(5)
    assert c.http("api-gateway") == 0  # a cold start is not an outage
    c.set_ready("feature-store", True)
    c.run(5)
    assert c.http("api-gateway", "2") > 500


def test_rotated_database_password_gives_auth_errors_in_callers(cluster: Cluster) -> None:
    cluster.set_env("feature-store", DB_PASSWORD="rotated-but-clients-not-updated")
    cluster.run(15)
    assert _upstream(cluster, "predictor", "feature-store", "auth_failed") > 1000
    assert _upstream(cluster, "ingest-worker", "feature-store", "auth_failed") > 0
    assert _ratio(cluster, "predictor", "500") > 0.8  # after 2 healthy seconds
    assert _ratio(cluster, "api-gateway", "502") > 0.5
    assert any("authentication failed" in str(r["msg"]) for r in _json_lines(cluster, "predictor"))
    assert any("password authentication failed" in line for line in cluster.lines("feature-store"))
    assert cluster.total(f"/metrics/app/{NS}/feature-store", "db_connections_in_use") == 0


def test_500s_carry_a_stack_trace(cluster: Cluster) -> None:
    cluster.set_env("feature-store", DB_PASSWORD="x")
    cluster.run(5)
    errors = [r for r in _json_lines(cluster, "api-gateway") if r.get("level") == "error"]
    assert errors
    bad = build(images={"predictor": "registry.local/market-predictor/predictor:1.5.0"})
    bad.run(10)
    assert 0.2 < _ratio(bad, "predictor", "500") < 0.5
    traced = [r for r in _json_lines(bad, "predictor") if "stack" in r]
    assert traced and "Traceback" in str(traced[0]["stack"]) and "\n" in str(traced[0]["stack"])


def test_cache_password_mismatch_falls_back_without_failing_requests(cluster: Cluster) -> None:
    cluster.run(10)
    base_pred = cluster.traffic.runtime.usage(NS, "predictor-7d9f8-00000").rps
    cluster.set_env("api-gateway", CACHE_PASSWORD="stale")
    cluster.run(10)
    assert _upstream(cluster, "api-gateway", "cache", "auth_failed") > 0
    assert cluster.total(GW, "cache_requests_total", result="error") > 0
    assert _ratio(cluster, "api-gateway") < 0.01
    assert cluster.traffic.runtime.usage(NS, "predictor-7d9f8-00000").rps > base_pred * 1.05
    assert any("WRONGPASS" in line for line in cluster.lines("cache"))


def test_cache_down_raises_errors_and_predictor_load(cluster: Cluster) -> None:
    cluster.run(10)
    hits = cluster.total(GW, "cache_requests_total", result="hit")
    cluster.remove_pods("cache")
    cluster.run(10)
    assert cluster.total(GW, "cache_requests_total", result="hit") == hits
    assert cluster.total(GW, "cache_requests_total", result="error") > 100
    assert any("falling back" in str(r.get("msg")) for r in _json_lines(cluster, "api-gateway"))


def test_surge_saturates_cpu_and_raises_latency(cluster: Cluster) -> None:
    cluster.run(20)
    base_sum, base_count = (cluster.total(GW, f"http_request_duration_seconds_{k}") for k in ("sum", "count"))
    cluster.control.set_surge(NS, "predictor", multiplier=4.0, client="batch-backfill")
    cluster.run(20)
    usage = cluster.traffic.runtime.usage(NS, "predictor-7d9f8-00000")
    assert usage.cpu_millicores == 1000  # capped at the limit: the HPA sees 200% of the request
    surge_sum = cluster.total(GW, "http_request_duration_seconds_sum") - base_sum
    surge_count = cluster.total(GW, "http_request_duration_seconds_count") - base_count
    assert surge_sum / surge_count > 3 * base_sum / base_count
    cad = "/metrics/cadvisor"
    pod = "predictor-7d9f8-00000"
    assert cluster.total(cad, "container_cpu_cfs_throttled_periods_total", pod=pod) > 100
    assert cluster.http("predictor", "504") > 0
    overloaded = [r for r in _json_lines(cluster, "predictor") if r.get("client") == "batch-backfill"]
    assert overloaded and any("cpu throttled" in str(r["msg"]) for r in overloaded)


def test_queue_without_ready_consumers_grows(cluster: Cluster) -> None:
    cluster.run(10)
    q = f"/metrics/app/{NS}/queue"
    assert cluster.total(q, "queue_depth") < 50
    cluster.set_ready("ingest-worker", False)
    cluster.run(30)
    assert cluster.total(q, "queue_depth") > 500
    assert cluster.total(q, "queue_consumer_lag_seconds") > 20
    consumed = cluster.total(q, "queue_messages_consumed_total")
    cluster.set_ready("ingest-worker", True)
    cluster.run(30)
    assert cluster.total(q, "queue_depth") < 50
    assert cluster.total(q, "queue_messages_consumed_total") > consumed + 500


def test_stalling_image_stops_consuming() -> None:
    c = build(images={"ingest-worker": "registry.local/market-predictor/ingest-worker:2.4.0"})
    c.run(70)  # workers started 10 s before: stalled from t=50 s on
    q = f"/metrics/app/{NS}/queue"
    assert c.total(q, "queue_depth", queue="market-ticks") > 300
    assert any("heartbeat" in line for line in c.lines("ingest-worker"))


def test_pool_sum_over_max_connections_exhausts_the_database(cluster: Cluster) -> None:
    cluster.set_env("feature-store", MAX_CONNECTIONS="20")  # clients want 3x5 + 2x8 = 31
    cluster.run(15)
    fs = f"/metrics/app/{NS}/feature-store"
    assert cluster.total(fs, "db_connections_in_use") == cluster.total(fs, "db_connections_max") == 20
    assert _upstream(cluster, "predictor", "feature-store", "error") > 0
    assert any("too many connections" in line for line in cluster.lines("predictor"))
    assert any("too many clients" in line for line in cluster.lines("feature-store"))
    cluster.set_env("feature-store", MAX_CONNECTIONS="100")
    cluster.run(2)
    assert cluster.total(fs, "db_connections_in_use") == 31


def test_odd_objects_degrade_traffic_instead_of_stopping_it(cluster: Cluster) -> None:
    cluster.patch_service("cache", lambda s: s["spec"].update(ports=[]))
    cluster.patch_service("predictor", lambda s: s["spec"]["ports"][0].update(targetPort="no-such-port"))
    cluster.patch_service("queue", lambda s: s["spec"].update(selector=None))
    cluster.set_env("feature-store", MAX_CONNECTIONS="lots")
    cluster.set_env("ingest-worker", POOL_SIZE="-", QUEUE_URL="amqp://[broken")
    cluster.set_env("api-gateway", PREDICTOR_URL="http://predictor.other-namespace:8000")
    cluster.run(5)
    assert _upstream(cluster, "api-gateway", "predictor", "error") > 0  # no such host
    assert _upstream(cluster, "api-gateway", "cache", "timeout") > 0  # port not on the service
    assert any("no such host" in line for line in cluster.lines("api-gateway"))


def test_backlog_grows_even_if_no_consumer_ever_ran() -> None:
    c = build()
    c.run(2)
    c.remove_pods("ingest-worker")
    c.traffic.metrics.queues.clear()
    c.run(20)
    assert c.total(f"/metrics/app/{NS}/queue", "queue_depth") > 300
