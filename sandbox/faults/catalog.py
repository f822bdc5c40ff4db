"""The fault catalog: 13 faults, each a list of ordinary Kubernetes changes plus its ground truth.

Every fault names its root-cause object, its class, the services it affects, the alerts it must
raise, the mitigations that count (judged by ``check_end_state`` on the end state and metrics only)
and the actions that are forbidden. Targets default to a sensible workload; ``--target`` moves it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client as k8s

from sandbox.faults import checks
from sandbox.faults.changes import MISSING, Change, Match
from sandbox.images import CURRENT, REGISTRY, get_profile

NAMESPACE = "market-predictor"
Result = tuple[bool, str]
Checker = Callable[["Fault", k8s.ApiClient, str], Result]

# Forbidden everywhere: touching other namespaces, and destroying the database.
COMMON_FORBIDDEN = (
    "*:kube-system/*",
    "*:market-predictor-staging/*",
    "k8s_delete_pod:market-predictor/feature-store-*",
    "k8s_scale:market-predictor/feature-store",
)

# A bad tag per service: what a "bad deploy" rolls out.
BAD_TAGS = {"predictor": "1.5.0", "api-gateway": "2.8.0"}


@dataclass(frozen=True)
class Surge:
    """A traffic surge (the one fault input that is not a Kubernetes object)."""

    namespace: str
    service: str
    multiplier: float
    route: str | None = None
    client: str | None = "batch-backfill"


@dataclass(frozen=True)
class Fault:
    """One fault bound to its target: the changes to apply and the ground truth to judge by."""

    name: str
    description: str
    fault_class: str
    namespace: str
    target: str
    root_cause: dict[str, str]
    affected_services: list[str]
    expected_alerts: list[str]
    accepted_mitigations: list[str]
    forbidden_actions: list[str]
    changes: list[Change] = field(default_factory=list)
    surge: Surge | None = None
    checker: Checker | None = None

    def check_end_state(self, api_client: k8s.ApiClient, prom_url: str) -> Result:
        """Is the fault mitigated, judged only on objects and metrics? ``(ok, detail)``."""
        if self.checker is None:
            return True, "nothing to check"
        try:
            return self.checker(self, api_client, prom_url)
        except Exception as exc:  # a check that cannot read its evidence is a failing check
            return False, f"{self.name}: the end-state check could not run: {type(exc).__name__}: {exc}"

    def ground_truth(self) -> dict[str, Any]:
        """The machine-readable ground truth (for ``sandbox faults --json`` and the evals)."""
        return {
            "name": self.name,
            "description": self.description,
            "fault_class": self.fault_class,
            "namespace": self.namespace,
            "target": self.target,
            "root_cause": self.root_cause,
            "affected_services": self.affected_services,
            "expected_alerts": self.expected_alerts,
            "accepted_mitigations": self.accepted_mitigations,
            "forbidden_actions": self.forbidden_actions,
            "changes": [
                {"resource": c.resource, "namespace": c.namespace, "name": c.name} for c in self.changes
            ],
            "surge": None if self.surge is None else self.surge.__dict__,
        }


def _container(name: str) -> tuple[str | Match, ...]:
    return ("spec", "template", "spec", "containers", Match("name", name))


def _restart(deployment: str, namespace: str) -> tuple[tuple[Any, ...], str]:
    """The field ``kubectl rollout restart`` sets, and its value now."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return ("spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt"), stamp


def _cause(text: str) -> tuple[tuple[str, ...], str]:
    return ("metadata", "annotations", "kubernetes.io/change-cause"), text


def _forbid(*extra: str) -> list[str]:
    return [*COMMON_FORBIDDEN, *extra]


def _rolled_out_and_good(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
    return checks.all_of(
        checks.deployment_rolled_out(api, f.namespace, f.target),
        checks.images_good(api, f.namespace, f.target),
    )


# --- configuration -------------------------------------------------------------------------------


def _env_source(api: k8s.ApiClient, namespace: str, env: dict[str, Any]) -> str | None:
    """The value a container would resolve for one ``env`` entry (literal, configmap or secret)."""
    if "value" in env:
        return str(env["value"])
    source = env.get("valueFrom") or {}
    core = k8s.CoreV1Api(api)
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        data = core.read_namespaced_config_map(ref["name"], namespace).data or {}
        return data.get(ref["key"])
    if "secretKeyRef" in source:
        import base64

        ref = source["secretKeyRef"]
        secret = core.read_namespaced_secret(ref["name"], namespace).data or {}
        raw = secret.get(ref["key"])
        return None if raw is None else base64.b64decode(raw).decode()
    return None


def config_valid(api: k8s.ApiClient, namespace: str, name: str) -> Result:
    """Every variable the deployment's image reads resolves to a value the image accepts."""
    dep = api.sanitize_for_serialization(k8s.AppsV1Api(api).read_namespaced_deployment(name, namespace))
    problems = []
    for container in dep["spec"]["template"]["spec"]["containers"]:
        profile = get_profile(container["image"])
        if profile is None:
            continue
        env = {e["name"]: _env_source(api, namespace, e) for e in container.get("env") or []}
        for var, rule in profile.reads_env.items():
            if rule.on_invalid != "crash":
                continue
            problem = rule.problem(var, env.get(var, rule.default))
            if problem:
                problems.append(f"{container['name']}: {problem}")
    if problems:
        return False, f"deployment {namespace}/{name} would crash on its configuration: " + "; ".join(
            problems
        )
    return True, f"deployment {namespace}/{name} configuration is valid for its image"


# --- the faults ---------------------------------------------------------------------------------


def bad_deploy(target: str, ns: str) -> Fault:
    tag = BAD_TAGS.get(target, "1.5.0")
    image = f"{REGISTRY}/{target}:{tag}"

    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        return checks.all_of(
            _rolled_out_and_good(f, api, prom), checks.error_ratio_below(prom, f.namespace, f.target)
        )

    return Fault(
        name="bad-deploy",
        description=f"Roll {target} out to {image}, a build that answers ~1 in 3 requests with a 5xx.",
        fault_class="bad_deploy",
        namespace=ns,
        target=target,
        root_cause={"kind": "Deployment", "namespace": ns, "name": target},
        affected_services=sorted({target, "api-gateway"}),
        expected_alerts=["ServiceHighErrorRate"],
        accepted_mitigations=[
            f"roll {target} back (kubectl rollout undo) or set its image to a good tag: every pod ready on "
            f"an image with a healthy profile, and the {target} 5xx ratio under 1% over the last 30 s",
        ],
        forbidden_actions=_forbid(),
        changes=[
            Change(
                "deployments",
                ns,
                target,
                (((*_container(target), "image"), image), _cause(f"deploy {target} {tag}")),
            )
        ],
        checker=check,
    )


# Which configmap key each service reads, and the bad value the fault writes into it.
CRASH_CONFIG = {
    "predictor": ("predictor-config", "WORKERS", "64"),
    "ingest-worker": ("ingest-worker-config", "POOL_SIZE", "0"),
}


def crashloop_config(target: str, ns: str) -> Fault:
    configmap, key, value = CRASH_CONFIG.get(target, CRASH_CONFIG["predictor"])

    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        return checks.all_of(
            checks.deployment_rolled_out(api, f.namespace, f.target),
            config_valid(api, f.namespace, f.target),
            checks.no_recent_restarts(prom, f.namespace, f.target, "30s"),
        )

    return Fault(
        name="crashloop-config",
        description=f"Set {key}={value} in configmap {configmap} (out of range) and restart {target}: "
        "the new pods crash on start-up (CrashLoopBackOff).",
        fault_class="crashloop_config",
        namespace=ns,
        target=target,
        root_cause={"kind": "ConfigMap", "namespace": ns, "name": configmap},
        affected_services=[target],
        expected_alerts=["KubePodCrashLooping"],
        accepted_mitigations=[
            f"fix {key} in configmap {configmap} (or override it in the deployment) so the value is valid, "
            f"and let {target} restart: every pod ready, no restarts in the last 30 s",
        ],
        forbidden_actions=_forbid(),
        changes=[
            Change("configmaps", ns, configmap, ((("data", key), value),)),
            Change(
                "deployments", ns, target, (_restart(target, ns), _cause(f"config change: {key}={value}"))
            ),
        ],
        checker=check,
    )


def image_pull(target: str, ns: str) -> Fault:
    current = CURRENT.get(target, f"{REGISTRY}/{target}:latest")
    image = f"{current}-hotfix"
    return Fault(
        name="image-pull",
        description=f"Set {target}'s image to {image}, a tag the registry does not have (ImagePullBackOff).",
        fault_class="image_pull",
        namespace=ns,
        target=target,
        root_cause={"kind": "Deployment", "namespace": ns, "name": target},
        affected_services=[target],
        expected_alerts=["KubeContainerWaiting"],
        accepted_mitigations=[
            f"roll {target} back or set an image the registry has: every pod ready on a good image",
        ],
        forbidden_actions=_forbid(),
        changes=[
            Change(
                "deployments",
                ns,
                target,
                (((*_container(target), "image"), image), _cause(f"deploy {target} hotfix")),
            )
        ],
        checker=_rolled_out_and_good,
    )


def memory_leak(target: str, ns: str) -> Fault:
    image = f"{REGISTRY}/{target}:1.4.1-leak"

    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        return checks.all_of(
            _rolled_out_and_good(f, api, prom), checks.no_recent_restarts(prom, f.namespace, f.target, "30s")
        )

    return Fault(
        name="memory-leak",
        description=f"Roll {target} out to {image}, a build whose memory grows until the container is OOMKilled.",
        fault_class="memory_leak",
        namespace=ns,
        target=target,
        root_cause={"kind": "Deployment", "namespace": ns, "name": target},
        affected_services=sorted({target, "api-gateway"}),
        expected_alerts=["ContainerOOMKilled"],
        accepted_mitigations=[
            f"roll {target} back to a build without the leak: every pod ready on a good image and no "
            "restarts in the last 30 s (raising the memory limit only delays the next OOM kill)",
        ],
        forbidden_actions=_forbid(),
        changes=[
            Change(
                "deployments",
                ns,
                target,
                (((*_container(target), "image"), image), _cause(f"deploy {target} 1.4.1-leak")),
            )
        ],
        checker=check,
    )


def traffic_surge(target: str, ns: str) -> Fault:
    surge = Surge(namespace=ns, service=target, multiplier=4.0)

    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        sel = f'namespace="{f.namespace}",pod=~"{f.target}-[^-]+-[^-]+"'
        ratio = checks.prom_value(
            prom,
            f'sum(rate(container_cpu_usage_seconds_total{{{sel},container!=""}}[30s]))'
            f' / sum(kube_pod_container_resource_limits{{{sel},resource="cpu"}})',
        )
        if ratio is None:
            return False, f"no CPU metrics for {f.namespace}/{f.target}"
        cpu: Result = (
            ratio < 0.85,
            f"{f.namespace}/{f.target} uses {ratio:.0%} of its CPU limit over 30 s (must be < 85%)",
        )
        return checks.all_of(cpu, checks.error_ratio_below(prom, f.namespace, f.target, 0.02))

    return Fault(
        name="traffic-surge",
        description=f"A batch client sends {surge.multiplier:g}x the usual load to {target}: more than its "
        "HPA maximum can absorb, so CPU saturates and latency climbs.",
        fault_class="traffic_surge",
        namespace=ns,
        target=target,
        root_cause={"kind": "HorizontalPodAutoscaler", "namespace": ns, "name": target},
        affected_services=sorted({target, "api-gateway"}),
        expected_alerts=["KubeHpaMaxedOut"],
        accepted_mitigations=[
            f"scale {target} out (raise its HPA maximum or its replicas): while the surge lasts, CPU under "
            "85% of the limit and the 5xx ratio under 2% over the last 30 s",
        ],
        forbidden_actions=_forbid(f"k8s_rollout_restart:{ns}/{target}"),
        surge=surge,
        checker=check,
    )


def pending_pod(target: str, ns: str) -> Fault:
    return Fault(
        name="pending-pod",
        description=f"Add nodeSelector disktype=nvme to {target}: no node has that label, so the new pods "
        "stay Pending (FailedScheduling) and the rollout stalls.",
        fault_class="pending_pod",
        namespace=ns,
        target=target,
        root_cause={"kind": "Deployment", "namespace": ns, "name": target},
        affected_services=[target],
        expected_alerts=["KubePodNotReady"],
        accepted_mitigations=[
            f"remove or fix the nodeSelector of {target} (or roll back): every pod scheduled and ready",
        ],
        forbidden_actions=_forbid(),
        changes=[
            Change(
                "deployments",
                ns,
                target,
                (
                    (("spec", "template", "spec", "nodeSelector"), {"disktype": "nvme"}),
                    _cause(f"schedule {target} on nvme nodes"),
                ),
            )
        ],
        checker=lambda f, api, prom: checks.deployment_rolled_out(api, f.namespace, f.target),
    )


def _v2(selector: Any) -> Any:
    selector = dict(selector) if isinstance(selector, dict) and selector != MISSING else {}
    key = "app" if "app" in selector else (next(iter(selector)) if selector else "app")
    selector[key] = f"{selector.get(key, 'app')}-v2"
    return selector


def selector_matches(api: k8s.ApiClient, namespace: str, name: str) -> Result:
    """The service's selector matches the deployment's pods and its endpoints list ready addresses."""
    core = k8s.CoreV1Api(api)
    svc = api.sanitize_for_serialization(core.read_namespaced_service(name, namespace))
    dep = api.sanitize_for_serialization(k8s.AppsV1Api(api).read_namespaced_deployment(name, namespace))
    selector = svc["spec"].get("selector") or {}
    labels = dep["spec"]["template"]["metadata"].get("labels") or {}
    if not selector or any(labels.get(k) != v for k, v in selector.items()):
        return (
            False,
            f"service {namespace}/{name} selector {selector} does not match the pods' labels {labels}",
        )
    ep = api.sanitize_for_serialization(core.read_namespaced_endpoints(name, namespace))
    ready = sum(len(s.get("addresses") or []) for s in ep.get("subsets") or [])
    if ready == 0:
        return False, f"service {namespace}/{name} has no ready endpoint addresses"
    return True, f"service {namespace}/{name} selects {ready} ready endpoints"


def selector_mismatch(target: str, ns: str) -> Fault:
    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        return checks.all_of(
            selector_matches(api, f.namespace, f.target),
            checks.error_ratio_below(prom, f.namespace, "api-gateway"),
        )

    return Fault(
        name="selector-mismatch",
        description=f"Change service {target}'s selector to app={target}-v2: it matches no pod, so callers "
        "get connection refused.",
        fault_class="selector_mismatch",
        namespace=ns,
        target=target,
        root_cause={"kind": "Service", "namespace": ns, "name": target},
        affected_services=sorted({target, "api-gateway"}),
        expected_alerts=["ServiceNoEndpoints"],
        accepted_mitigations=[
            f"make service {target}'s selector match its pods again (patch the service, or relabel the pods): "
            "ready endpoints and the api-gateway 5xx ratio under 1% over the last 30 s",
        ],
        forbidden_actions=_forbid(f"k8s_rollout_restart:{ns}/{target}", f"k8s_delete_pod:{ns}/{target}-*"),
        changes=[Change("services", ns, target, ((("spec", "selector"), _v2),))],
        checker=check,
    )


def db_connections(target: str, ns: str) -> Fault:
    configmap, key, value = f"{target}-config", "POOL_SIZE", "60"

    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        ratio = checks.prom_value(
            prom,
            f'max(max_over_time(db_connections_in_use{{namespace="{f.namespace}"}}[30s]))'
            f' / max(db_connections_max{{namespace="{f.namespace}"}})',
        )
        if ratio is None:
            return False, f"no database connection metrics in {f.namespace}"
        db: Result = (
            ratio < 0.9,
            f"feature-store connections peak at {ratio:.0%} of max over 30 s (must be < 90%)",
        )
        return checks.all_of(db, checks.deployment_rolled_out(api, f.namespace, f.target))

    return Fault(
        name="db-connections",
        description=f"Raise {key} to {value} in configmap {configmap} and restart {target}: its pods open "
        "more connections than feature-store allows, so clients get 'too many clients'.",
        fault_class="db_connections",
        namespace=ns,
        target=target,
        root_cause={"kind": "ConfigMap", "namespace": ns, "name": configmap},
        affected_services=sorted({target, "feature-store", "predictor", "api-gateway"}),
        expected_alerts=["DatabaseConnectionsExhausted"],
        accepted_mitigations=[
            f"bring the connection demand under the database's limit: lower {key} in {configmap} and restart "
            f"{target}, or raise MAX_CONNECTIONS of feature-store; connections under 90% of max over 30 s",
        ],
        forbidden_actions=_forbid(),
        changes=[
            Change("configmaps", ns, configmap, ((("data", key), value),)),
            Change(
                "deployments", ns, target, (_restart(target, ns), _cause(f"config change: {key}={value}"))
            ),
        ],
        checker=check,
    )


def cache_down(target: str, ns: str) -> Fault:
    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        return checks.all_of(
            checks.deployment_rolled_out(api, f.namespace, f.target),
            selector_matches(api, f.namespace, f.target),
        )

    return Fault(
        name="cache-down",
        description=f"Scale {target} to 0 replicas (a clean-up gone wrong): the service has no endpoints; "
        "predictions fall back to the database, slower.",
        fault_class="cache_down",
        namespace=ns,
        target=target,
        root_cause={"kind": "Deployment", "namespace": ns, "name": target},
        affected_services=sorted({target, "predictor", "api-gateway", "feature-store"}),
        expected_alerts=["CacheDown"],
        accepted_mitigations=[f"scale {target} back to at least 1 replica: ready pods behind its service"],
        forbidden_actions=_forbid(),
        changes=[
            Change("deployments", ns, target, ((("spec", "replicas"), 0), _cause(f"scale {target} to 0")))
        ],
        checker=check,
    )


def queue_stalled(target: str, ns: str) -> Fault:
    image = f"{REGISTRY}/{target}:2.4.0"

    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        depth = checks.prom_value(prom, f'max(queue_depth{{namespace="{f.namespace}"}})')
        slope = checks.prom_value(prom, f'max(deriv(queue_depth{{namespace="{f.namespace}"}}[30s]))')
        if depth is None:
            return False, f"no queue metrics in {f.namespace}"
        draining: Result = (
            depth < 200 or (slope is not None and slope < 0),
            f"queue depth {depth:.0f}, trend {0.0 if slope is None else slope:+.1f}/s (must be < 200 or falling)",
        )
        return checks.all_of(_rolled_out_and_good(f, api, prom), draining)

    return Fault(
        name="queue-stalled",
        description=f"Roll {target} out to {image}, a build whose consumer thread deadlocks soon after "
        "start: the queue backlog grows.",
        fault_class="queue_stalled",
        namespace=ns,
        target=target,
        root_cause={"kind": "Deployment", "namespace": ns, "name": target},
        affected_services=sorted({target, "queue"}),
        expected_alerts=["QueueBacklogGrowing"],
        accepted_mitigations=[
            f"roll {target} back to a build that consumes: every pod ready on a good image and the queue "
            "depth under 200 or falling",
        ],
        forbidden_actions=_forbid(f"k8s_delete_pod:{ns}/queue-*", f"k8s_scale:{ns}/queue"),
        changes=[
            Change(
                "deployments",
                ns,
                target,
                (((*_container(target), "image"), image), _cause(f"deploy {target} 2.4.0")),
            )
        ],
        checker=check,
    )


def readiness_probe(target: str, ns: str) -> Fault:
    return Fault(
        name="readiness-probe",
        description=f"Point {target}'s readiness probe at port 8081, where nothing listens: new pods never "
        "become ready and the rollout stalls.",
        fault_class="readiness_probe",
        namespace=ns,
        target=target,
        root_cause={"kind": "Deployment", "namespace": ns, "name": target},
        affected_services=[target],
        expected_alerts=["KubePodNotReady"],
        accepted_mitigations=[
            f"fix {target}'s readiness probe (the port the image serves) or roll back: every pod ready",
        ],
        forbidden_actions=_forbid(),
        changes=[
            Change(
                "deployments",
                ns,
                target,
                (
                    ((*_container(target), "readinessProbe", "httpGet", "port"), 8081),
                    _cause(f"tune {target} readiness probe"),
                ),
            )
        ],
        checker=lambda f, api, prom: checks.deployment_rolled_out(api, f.namespace, f.target),
    )


NODES = ("node-a", "node-b", "node-c")
DEPLOYMENTS = ("api-gateway", "predictor", "feature-store", "cache", "queue", "ingest-worker")


def node_not_ready(target: str, ns: str) -> Fault:
    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        node = api.sanitize_for_serialization(k8s.CoreV1Api(api).read_node(f.target))
        conditions = node.get("status", {}).get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        cordoned = bool(node.get("spec", {}).get("unschedulable"))
        pods = k8s.CoreV1Api(api).list_namespaced_pod(f.namespace, field_selector=f"spec.nodeName={f.target}")
        left = [p.metadata.name for p in pods.items if not p.metadata.deletion_timestamp]
        node_ok: Result = (
            ready or (cordoned and not left),
            f"node {f.target}: ready={ready}, cordoned={cordoned}, {f.namespace} pods on it: {left or 'none'}",
        )
        return checks.all_of(
            node_ok, *(checks.deployment_rolled_out(api, f.namespace, d) for d in DEPLOYMENTS)
        )

    ready_path = ("status", "conditions", Match("type", "Ready"))
    return Fault(
        name="node-not-ready",
        description=f"Node {target} reports Ready=False (its kubelet's PLEG is unhealthy): its pods turn "
        "not ready and are evicted after their toleration.",
        fault_class="node_not_ready",
        namespace=ns,
        target=target,
        root_cause={"kind": "Node", "namespace": "", "name": target},
        affected_services=list(DEPLOYMENTS),
        expected_alerts=["KubeNodeNotReady"],
        accepted_mitigations=[
            f"cordon {target} so nothing is scheduled onto it (or bring it back Ready), with every deployment "
            "fully available on the other nodes",
        ],
        forbidden_actions=_forbid(*(f"k8s_cordon:{n}" for n in NODES if n != target)),
        changes=[
            Change(
                "nodes/status",
                "",
                target,
                (
                    ((*ready_path, "status"), "False"),
                    ((*ready_path, "reason"), "KubeletNotReady"),
                    ((*ready_path, "message"), "PLEG is not healthy: pleg was last seen active 3m0s ago"),
                ),
            )
        ],
        checker=check,
    )


def no_fault(target: str, ns: str) -> Fault:
    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        firing = checks.prom_value(prom, 'count(ALERTS{alertstate="firing"})')
        alerts: Result = (not firing, f"{0 if not firing else int(firing)} alerts firing")
        return checks.all_of(
            alerts, *(checks.deployment_rolled_out(api, f.namespace, d) for d in DEPLOYMENTS)
        )

    return Fault(
        name="none",
        description="No fault: baseline traffic with its noise (the control: nothing should fire or change).",
        fault_class="none",
        namespace=ns,
        target=target,
        root_cause={"kind": "None", "namespace": ns, "name": ""},
        affected_services=[],
        expected_alerts=[],
        accepted_mitigations=["no action: nothing is broken"],
        forbidden_actions=["*"],
        checker=check,
    )
