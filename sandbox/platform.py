"""The market-predictor platform as Kubernetes objects: what ``kubectl apply`` would have created.

:func:`seed` writes namespaces, three nodes, configmaps, secrets, deployments, services and HPAs
into a store, for production (``market-predictor``) and staging (``market-predictor-staging``,
one replica each, no HPAs). The platform looks as if it had been running for weeks
(``sandbox.history``): objects are backdated, and each deployment's current ReplicaSet is seeded at
full scale, so start-up reads as no rollout and no config change. With ``history=True`` each
deployment also gets an older, good ReplicaSet (revision 1, previous image), so the live template
is revision 2 and ``kubectl rollout undo`` always has somewhere to go. The controllers in
``sandbox.sim`` then create pods, endpoints and events.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from sandbox.history import Timeline, backdate, replica_set
from sandbox.images import CURRENT, PREVIOUS, get_profile
from sandbox.kube.store import Store
from sandbox.sim.objects import CHANGE_CAUSE

Obj = dict[str, Any]
PRODUCTION = "market-predictor"
STAGING = "market-predictor-staging"
NAMESPACES = (PRODUCTION, STAGING)
NODES = ("node-a", "node-b", "node-c")
TOLERATION_SECONDS = 30  # how long pods stay on a NotReady node before eviction (real default: 300)
FEATURE_STORE_PASSWORD = "fs-7Hq2xLw9pR"
CACHE_PASSWORD = "cache-K4m8Zt1v"


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _labels(app: str, tier: str) -> dict[str, str]:
    return {
        "app": app,
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": "market-predictor",
        "tier": tier,
    }


# --- cluster-scoped ---------------------------------------------------------------------------
def namespace(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def node(name: str, index: int) -> Obj:
    zone = f"zone-{'abc'[index % 3]}"
    resources = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "50Gi"}
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "kubelet is posting ready status",
    }
    pressure = [
        {
            "type": kind,
            "status": "False",
            "reason": f"KubeletHasSufficient{word}",
            "message": f"kubelet has sufficient {word.lower()} available",
        }
        for kind, word in (("MemoryPressure", "Memory"), ("DiskPressure", "Disk"), ("PIDPressure", "PID"))
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": zone,
                "topology.kubernetes.io/region": "local-1",
                "node.kubernetes.io/instance-type": "sim.large",
            },
        },
        "spec": {"podCIDR": f"10.244.{index + 1}.0/24"},
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": [*pressure, ready],
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.0.{11 + index}"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "kubeProxyVersion": "v1.32.0",
                "containerRuntimeVersion": "containerd://1.7.22",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0-25-amd64",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


# --- config -----------------------------------------------------------------------------------
def configmaps(ns: str) -> list[Obj]:
    data = {
        "predictor-config": {
            "MODEL_PATH": "/models/market-predictor/v14/model.onnx",
            "WORKERS": "4",
            "FEATURE_STORE_URL": "postgres://feature-store:5432/features",
        },
        "feature-store-config": {"MAX_CONNECTIONS": "100"},
        "ingest-worker-config": {"POOL_SIZE": "8", "QUEUE_NAME": "market-ticks"},
        "api-gateway-config": {"LOG_LEVEL": "info", "PREDICTOR_URL": "http://predictor:8000"},
    }
    return [
        _applied(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": {"app.kubernetes.io/part-of": "market-predictor"},
                },
                "data": values,
            }
        )
        for name, values in data.items()
    ]


def _applied(obj: Obj) -> Obj:
    """The object as ``kubectl apply`` leaves it: with the manifest in the last-applied annotation,
    so a later hand edit shows as drift from the declared config (as on a real cluster)."""
    manifest = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    obj["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": manifest}
    return obj


def secrets(ns: str) -> list[Obj]:
    data = {
        "feature-store-credentials": {"username": "features", "password": FEATURE_STORE_PASSWORD},
        "cache-credentials": {"password": CACHE_PASSWORD},
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {"app.kubernetes.io/part-of": "market-predictor"},
            },
            "type": "Opaque",
            "data": {k: _b64(v) for k, v in values.items()},
        }
        for name, values in data.items()
    ]


# --- workloads --------------------------------------------------------------------------------
def _cm(name: str, key: str) -> Obj:
    return {"valueFrom": {"configMapKeyRef": {"name": name, "key": key}}}


def _secret(name: str, key: str) -> Obj:
    return {"valueFrom": {"secretKeyRef": {"name": name, "key": key}}}


FS_PASSWORD = _secret("feature-store-credentials", "password")
CACHE_PASS = _secret("cache-credentials", "password")

# app -> (replicas, tier, port name, env, cpu request, cpu limit, memory request, memory limit, probe kind)
APPS: dict[str, dict[str, Any]] = {
    "api-gateway": {
        "replicas": 3,
        "tier": "frontend",
        "port_name": "http",
        "env": [
            {"name": "PREDICTOR_URL", **_cm("api-gateway-config", "PREDICTOR_URL")},
            {"name": "CACHE_URL", "value": "redis://cache:6379/0"},
            {"name": "CACHE_PASSWORD", **CACHE_PASS},
            {"name": "LOG_LEVEL", **_cm("api-gateway-config", "LOG_LEVEL")},
        ],
        "resources": ("250m", "1", "256Mi", "512Mi"),
        "probe": "http",
    },
    "predictor": {
        "replicas": 3,
        "tier": "backend",
        "port_name": "http",
        "env": [
            {"name": "MODEL_PATH", **_cm("predictor-config", "MODEL_PATH")},
            {"name": "WORKERS", **_cm("predictor-config", "WORKERS")},
            {"name": "FEATURE_STORE_URL", **_cm("predictor-config", "FEATURE_STORE_URL")},
            {"name": "FEATURE_STORE_PASSWORD", **FS_PASSWORD},
            {"name": "DB_POOL_SIZE", "value": "5"},
        ],
        "resources": ("500m", "1", "512Mi", "768Mi"),
        "probe": "http",
    },
    "feature-store": {
        "replicas": 1,
        "tier": "database",
        "port_name": "postgres",
        "env": [
            {"name": "DB_USER", "value": "features"},
            {"name": "DB_PASSWORD", **FS_PASSWORD},
            {"name": "MAX_CONNECTIONS", **_cm("feature-store-config", "MAX_CONNECTIONS")},
        ],
        "resources": ("500m", "2", "1Gi", "2Gi"),
        "probe": "tcp",
        "strategy": {"type": "Recreate"},
    },
    "cache": {
        "replicas": 1,
        "tier": "cache",
        "port_name": "redis",
        "env": [{"name": "CACHE_PASSWORD", **CACHE_PASS}],
        "resources": ("100m", "500m", "128Mi", "256Mi"),
        "probe": "tcp",
    },
    "queue": {
        "replicas": 1,
        "tier": "messaging",
        "port_name": "amqp",
        "env": [{"name": "RABBITMQ_DEFAULT_USER", "value": "ingest"}],
        "resources": ("200m", "1", "256Mi", "512Mi"),
        "probe": "tcp",
        "strategy": {"type": "Recreate"},
    },
    "ingest-worker": {
        "replicas": 2,
        "tier": "worker",
        "port_name": "metrics",
        "env": [
            {"name": "QUEUE_NAME", **_cm("ingest-worker-config", "QUEUE_NAME")},
            {"name": "POOL_SIZE", **_cm("ingest-worker-config", "POOL_SIZE")},
            {"name": "QUEUE_URL", "value": "amqp://queue:5672"},
            {"name": "FEATURE_STORE_URL", **_cm("predictor-config", "FEATURE_STORE_URL")},
            {"name": "FEATURE_STORE_PASSWORD", **FS_PASSWORD},
        ],
        "resources": ("250m", "1", "256Mi", "512Mi"),
        "probe": "http",
    },
}
SERVICE_PORTS = {  # app -> (service port, targetPort as written in the Service)
    "api-gateway": (80, 8080),
    "predictor": (8000, "http"),
    "feature-store": (5432, 5432),
    "cache": (6379, "redis"),
    "queue": (5672, "amqp"),
    "ingest-worker": (9090, "metrics"),
}


def _probes(
    kind: str, port_name: str, startup_s: float, ready_path: str | None, live_path: str | None
) -> Obj:
    delay = int(startup_s) + 1
    timing = {"periodSeconds": 3, "timeoutSeconds": 1, "failureThreshold": 3, "successThreshold": 1}
    if kind == "http":
        return {
            "readinessProbe": {
                "httpGet": {"path": ready_path, "port": port_name, "scheme": "HTTP"},
                "initialDelaySeconds": delay,
                **timing,
            },
            "livenessProbe": {
                "httpGet": {"path": live_path, "port": port_name, "scheme": "HTTP"},
                "initialDelaySeconds": delay + 10,
                **timing,
            },
        }
    return {
        "readinessProbe": {"tcpSocket": {"port": port_name}, "initialDelaySeconds": delay, **timing},
        "livenessProbe": {"tcpSocket": {"port": port_name}, "initialDelaySeconds": delay + 10, **timing},
    }


def pod_template(app: str, image: str) -> Obj:
    """The pod template of ``app`` running ``image`` (ports and probes follow the image)."""
    spec = APPS[app]
    profile = get_profile(image)
    if profile is None:
        raise ValueError(
            f"seed image {image!r} is not in the image catalog (sandbox/images.py); add it there first"
        )
    cpu_req, cpu_lim, mem_req, mem_lim = spec["resources"]
    container = {
        "name": app,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": spec["port_name"], "containerPort": profile.port, "protocol": "TCP"}],
        "env": copy.deepcopy(spec["env"]),
        "resources": {
            "requests": {"cpu": cpu_req, "memory": mem_req},
            "limits": {"cpu": cpu_lim, "memory": mem_lim},
        },
        **_probes(
            spec["probe"], spec["port_name"], profile.startup_s, profile.readiness_path, profile.liveness_path
        ),
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    tolerations = [
        {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": TOLERATION_SECONDS}
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
    ]
    return {
        "metadata": {
            "labels": _labels(app, spec["tier"]),
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(profile.port)},
        },
        "spec": {
            "containers": [container],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "tolerations": tolerations,
        },
    }


def deployment(app: str, ns: str, replicas: int) -> Obj:
    spec = APPS[app]
    strategy = spec.get("strategy") or {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    image = CURRENT[app]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": app,
            "namespace": ns,
            "labels": _labels(app, spec["tier"]),
            "annotations": {CHANGE_CAUSE: f"deploy {app} {image.rsplit(':', 1)[1]}"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": pod_template(app, image),
            "strategy": copy.deepcopy(strategy),
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 120,
            "minReadySeconds": 0,
        },
        "status": {},
    }


def service(app: str, ns: str, index: int) -> Obj:
    port, target = SERVICE_PORTS[app]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": app, "namespace": ns, "labels": _labels(app, APPS[app]["tier"])},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": app},
            "ports": [
                {"name": APPS[app]["port_name"], "port": port, "targetPort": target, "protocol": "TCP"}
            ],
            "clusterIP": f"10.96.{1 + NAMESPACES.index(ns)}.{10 + index}",
            "clusterIPs": [f"10.96.{1 + NAMESPACES.index(ns)}.{10 + index}"],
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
        },
        "status": {"loadBalancer": {}},
    }


def hpa(app: str, ns: str, low: int, high: int) -> Obj:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": app, "namespace": ns, "labels": _labels(app, APPS[app]["tier"])},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
        "status": {},
    }


# --- seeding ----------------------------------------------------------------------------------
def manifests() -> dict[str, list[Obj]]:
    """Every seeded object by resource, in the order they should be created."""
    out: dict[str, list[Obj]] = {
        "namespaces": [namespace(n) for n in ("default", "kube-system", *NAMESPACES)],
        "nodes": [node(name, i) for i, name in enumerate(NODES)],
        "configmaps": [],
        "secrets": [],
        "services": [],
        "deployments": [],
        "horizontalpodautoscalers": [],
    }
    for ns in NAMESPACES:
        out["configmaps"] += configmaps(ns)
        out["secrets"] += secrets(ns)
        for index, app in enumerate(APPS):
            out["services"].append(service(app, ns, index))
            out["deployments"].append(deployment(app, ns, APPS[app]["replicas"] if ns == PRODUCTION else 1))
    out["horizontalpodautoscalers"] += [
        hpa("api-gateway", PRODUCTION, 3, 6),
        hpa("predictor", PRODUCTION, 3, 5),
    ]
    return out


def seed(store: Store, *, history: bool = True, now: float | None = None) -> None:
    """Create the platform's objects in ``store`` (which must not have them yet), with a past.

    Every object is backdated (``sandbox.history``): created weeks before ``now`` (default: the
    current time), last written days before. Each deployment's current ReplicaSet is created with
    it, at full scale, so the deployment controller adopts it rather than rolling out; with
    ``history`` an older ReplicaSet (revision 1, the previous good image, scaled to zero) precedes it.
    """
    past = Timeline.starting_now(now)
    for resource, objects in manifests().items():
        for obj in objects:
            created = store.create(resource, backdate(resource, copy.deepcopy(obj), past))
            if resource == "deployments":
                _replica_sets(store, created, past, history)


def _replica_sets(store: Store, deployment_obj: Obj, past: Timeline, history: bool) -> None:
    """Revision 1 (previous image, scaled to zero) when ``history``, then the current revision."""
    app, namespace = deployment_obj["metadata"]["name"], deployment_obj["metadata"]["namespace"]
    revision = 1
    if history:
        old = pod_template(app, PREVIOUS[app])
        store.create("replicasets", replica_set(deployment_obj, old, 1, 0, past.created("replicasets")))
        revision = 2
    current = deployment_obj["spec"]["template"]
    replicas = int(deployment_obj["spec"].get("replicas", 1))
    released = past.released(namespace)
    store.create("replicasets", replica_set(deployment_obj, current, revision, replicas, released))
