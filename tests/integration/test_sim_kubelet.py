"""The kubelet: config errors, crash loops, OOM kills, bad commands and probes, from pod state alone."""

from __future__ import annotations

import base64

import pytest

from sandbox.platform import PRODUCTION
from sandbox.sim.objects import condition_true
from sandbox.sim.testing import SimCluster, container_status, waiting_reason

pytestmark = pytest.mark.timeout(60)


def _container(fn):
    def change(obj: dict) -> None:
        fn(obj["spec"]["template"]["spec"]["containers"][0])

    return change


def _set_config(cluster: SimCluster, name: str, key: str, value: str) -> None:
    cluster.mutate("configmaps", name, lambda cm: cm["data"].__setitem__(key, value))


def _restart(cluster: SimCluster, deployment: str, stamp: str = "2027-01-15T09:00:00Z") -> None:
    """`kubectl rollout restart`: a template annotation change."""

    def change(obj: dict) -> None:
        obj["spec"]["template"]["metadata"].setdefault("annotations", {})[
            "kubectl.kubernetes.io/restartedAt"
        ] = stamp

    cluster.mutate("deployments", deployment, change)


def test_bad_configmap_value_crash_loops_with_growing_restarts() -> None:
    cluster = SimCluster.seeded()
    _set_config(cluster, "predictor-config", "WORKERS", "zero")
    _restart(cluster, "predictor")
    cluster.run(20)
    crashing = [p for p in cluster.pods(app="predictor") if container_status(p).get("restartCount", 0) > 0]
    assert crashing, "no predictor pod restarted"
    pod = crashing[0]
    name = pod["metadata"]["name"]
    first = container_status(pod)["restartCount"]
    terminated = container_status(pod)["lastState"]["terminated"]
    assert terminated["reason"] == "Error" and terminated["exitCode"] == 1
    cluster.run(60)
    pod = cluster.get("pods", name)
    assert container_status(pod)["restartCount"] > first
    assert any(
        waiting_reason(p) == "CrashLoopBackOff" for p in cluster.pods(app="predictor")
    ) or cluster.run_until(lambda: waiting_reason(cluster.get("pods", name)) == "CrashLoopBackOff", 30)
    backoff = cluster.events("BackOff", name)
    assert backoff and "Back-off restarting failed container predictor" in backoff[0]["message"]
    lines = cluster.logs.pod_log(PRODUCTION, name, "predictor", previous=True)
    assert any("invalid literal for int() with base 10: 'zero'" in line for line in lines), lines
    # The old pods keep serving: the rollout cannot progress past crashing pods.
    assert len(cluster.endpoints("predictor")[0]) == 3


def test_fixing_the_configmap_lets_the_crashing_pod_recover_on_its_next_restart() -> None:
    cluster = SimCluster.seeded()
    _set_config(cluster, "predictor-config", "WORKERS", "-3")
    _restart(cluster, "predictor")
    cluster.run(15)
    assert any(container_status(p).get("restartCount", 0) for p in cluster.pods(app="predictor"))
    _set_config(cluster, "predictor-config", "WORKERS", "4")
    assert cluster.run_until(
        lambda: (
            cluster.get("deployments", "predictor")["status"].get("updatedReplicas") == 3
            and cluster.get("deployments", "predictor")["status"].get("availableReplicas") == 3
            and len(cluster.pods(app="predictor")) == 3
        ),
        120,
    )


def test_missing_configmap_key_is_a_create_container_config_error() -> None:
    cluster = SimCluster.seeded()
    cluster.mutate("configmaps", "ingest-worker-config", lambda cm: cm["data"].pop("QUEUE_NAME"))
    _restart(cluster, "ingest-worker")
    cluster.run(10)
    stuck = [
        p for p in cluster.pods(app="ingest-worker") if waiting_reason(p) == "CreateContainerConfigError"
    ]
    assert stuck
    message = container_status(stuck[0])["state"]["waiting"]["message"]
    assert message == f"couldn't find key QUEUE_NAME in ConfigMap {PRODUCTION}/ingest-worker-config"
    assert stuck[0]["status"]["phase"] == "Pending"


def test_memory_limit_below_usage_is_oom_killed_with_exit_137() -> None:
    cluster = SimCluster.seeded()
    cluster.mutate(
        "deployments",
        "api-gateway",
        _container(lambda c: c["resources"]["limits"].__setitem__("memory", "32Mi")),
    )
    cluster.run(10)
    killed = [
        p
        for p in cluster.pods(app="api-gateway")
        if container_status(p).get("lastState", {}).get("terminated", {}).get("reason") == "OOMKilled"
    ]
    assert killed
    assert container_status(killed[0])["lastState"]["terminated"]["exitCode"] == 137
    # Raising the limit again (the natural fix) brings a clean rollout.
    cluster.mutate(
        "deployments",
        "api-gateway",
        _container(lambda c: c["resources"]["limits"].__setitem__("memory", "512Mi")),
    )
    assert cluster.run_until(
        lambda: (
            cluster.get("deployments", "api-gateway")["status"].get("availableReplicas") == 3
            and all(container_status(p)["restartCount"] == 0 for p in cluster.pods(app="api-gateway"))
        ),
        120,
    )


def test_memory_leak_image_is_oom_killed_over_time() -> None:
    cluster = SimCluster.seeded()
    cluster.mutate(
        "deployments",
        "predictor",
        _container(lambda c: c.__setitem__("image", "registry.local/market-predictor/predictor:1.4.1-leak")),
    )
    assert cluster.run_until(
        lambda: any(
            container_status(p).get("lastState", {}).get("terminated", {}).get("reason") == "OOMKilled"
            for p in cluster.pods(app="predictor")
        ),
        180,
    )


def test_unknown_command_fails_with_exit_127() -> None:
    cluster = SimCluster.seeded()
    cluster.mutate("deployments", "cache", _container(lambda c: c.__setitem__("command", ["redis-srv"])))
    cluster.run(15)
    pod = next(p for p in cluster.pods(app="cache") if container_status(p).get("lastState"))
    terminated = container_status(pod)["lastState"]["terminated"]
    assert terminated["exitCode"] == 127
    assert 'exec: "redis-srv": executable file not found in $PATH' in terminated["message"]


def test_readiness_probe_on_the_wrong_port_keeps_pods_out_of_the_endpoints() -> None:
    cluster = SimCluster.seeded()

    def wrong_port(c: dict) -> None:
        c["readinessProbe"]["httpGet"]["port"] = 8081

    cluster.mutate("deployments", "api-gateway", _container(wrong_port))
    cluster.run(20)
    ready, waiting = cluster.endpoints("api-gateway")
    new = [p["metadata"]["name"] for p in cluster.pods(app="api-gateway") if not condition_true(p, "Ready")]
    assert new and set(new) <= set(waiting)
    assert len(ready) == 3  # the old pods keep serving, the rollout is stuck
    unhealthy = cluster.events("Unhealthy", new[0])
    assert unhealthy and "Readiness probe failed" in unhealthy[0]["message"]
    assert ":8081/ready" in unhealthy[0]["message"] and "connection refused" in unhealthy[0]["message"]


def test_liveness_probe_on_a_path_the_image_does_not_serve_restarts_the_container() -> None:
    cluster = SimCluster.seeded()
    cluster.mutate(
        "deployments",
        "ingest-worker",
        _container(lambda c: c["livenessProbe"]["httpGet"].__setitem__("path", "/live")),
    )
    assert cluster.run_until(
        lambda: any(
            container_status(p).get("restartCount", 0) > 0 for p in cluster.pods(app="ingest-worker")
        ),
        90,
    )
    assert any("statuscode: 404" in e["message"] for e in cluster.events("Unhealthy", "ingest-worker"))
    assert any("failed liveness probe" in e["message"] for e in cluster.events("Killing", "ingest-worker"))


def test_wrong_password_in_secret_is_only_seen_by_the_runtime_env() -> None:
    cluster = SimCluster.seeded()
    cluster.mutate(
        "secrets",
        "feature-store-credentials",
        lambda s: s["data"].__setitem__("password", base64.b64encode(b"rotated").decode()),
    )
    _restart(cluster, "predictor")
    assert cluster.run_until(
        lambda: (
            all(
                c.env.get("FEATURE_STORE_PASSWORD") == "rotated"
                for c in cluster.sim.runtime.containers(PRODUCTION)
                if c.app == "predictor" and c.running
            )
            and len(cluster.endpoints("predictor")[0]) == 3
        ),
        60,
    )
    feature_store = [c for c in cluster.sim.runtime.containers(PRODUCTION) if c.app == "feature-store"]
    assert feature_store[0].env["DB_PASSWORD"] != "rotated"  # it only reads it at its own start


def test_startup_probe_gates_readiness_and_kills_a_container_that_never_starts() -> None:
    cluster = SimCluster.seeded()

    def startup(c: dict) -> None:
        c["startupProbe"] = {"tcpSocket": {"port": 7000}, "periodSeconds": 2, "failureThreshold": 3}

    cluster.mutate("deployments", "queue", _container(startup))
    cluster.run(10)
    pod = next(p for p in cluster.pods(app="queue") if p["spec"]["containers"][0].get("startupProbe"))
    name = pod["metadata"]["name"]
    assert cluster.run_until(
        lambda: container_status(cluster.get("pods", name)).get("restartCount", 0) > 0, 30
    )
    assert not condition_true(cluster.get("pods", name), "Ready")
    assert any("failed startup probe" in e["message"] for e in cluster.events("Killing", name))
    assert any("Startup probe failed" in e["message"] for e in cluster.events("Unhealthy", name))
    # Pointing the startup probe at the port the broker listens on (the natural fix) brings it up.
    cluster.mutate(
        "deployments",
        "queue",
        _container(lambda c: c["startupProbe"]["tcpSocket"].__setitem__("port", "amqp")),
    )
    assert cluster.run_until(lambda: len(cluster.endpoints("queue")[0]) == 1, 60)
    pod = cluster.pods(app="queue")[0]
    assert container_status(pod)["started"] is True and container_status(pod)["restartCount"] == 0


def _bare_pod(name: str, policy: str, command: list[str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": PRODUCTION, "labels": {"app": "debug"}},
        "spec": {
            "restartPolicy": policy,
            "containers": [
                {
                    "name": "debug",
                    "image": "registry.local/market-predictor/predictor:1.4.0",
                    "command": command,
                }
            ],
        },
        "status": {"phase": "Pending"},
    }


@pytest.mark.parametrize(
    ("policy", "phase", "restarts"), [("Never", "Failed", 0), ("OnFailure", "Running", 1)]
)
def test_restart_policy_decides_whether_a_failed_container_comes_back(
    policy: str, phase: str, restarts: int
) -> None:
    cluster = SimCluster.seeded()
    cluster.store.create("pods", _bare_pod("debug", policy, ["sh"]))
    cluster.run(10)
    pod = cluster.get("pods", "debug")
    assert pod["status"]["phase"] == phase
    status = container_status(pod)
    assert status["restartCount"] >= restarts and (restarts or status["restartCount"] == 0)
    exit_code = (status["state"].get("terminated") or status["lastState"]["terminated"])["exitCode"]
    assert exit_code == 127


def test_patching_a_stuck_pods_image_pulls_the_new_one_at_once() -> None:
    cluster = SimCluster.seeded()
    cluster.store.create("pods", _bare_pod("debug", "Always", ["rabbitmq-server"]))
    cluster.mutate("pods", "debug", lambda p: p["spec"]["containers"][0].__setitem__("image", "busybox:1.36"))
    cluster.run(8)
    assert waiting_reason(cluster.get("pods", "debug")) == "ImagePullBackOff"
    good = "registry.local/market-predictor/queue:3.12.6"
    cluster.mutate("pods", "debug", lambda p: p["spec"]["containers"][0].__setitem__("image", good))
    cluster.run(1)
    status = container_status(cluster.get("pods", "debug"))
    assert "running" in status["state"] and status["image"] == good
