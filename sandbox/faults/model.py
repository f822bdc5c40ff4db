"""The fault model: a fault bound to its target, its ground truth, and the checks faults share.

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
from sandbox.faults.changes import Change, Match
from sandbox.images import get_profile

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


NODES = ("node-a", "node-b", "node-c")
DEPLOYMENTS = ("api-gateway", "predictor", "feature-store", "cache", "queue", "ingest-worker")
