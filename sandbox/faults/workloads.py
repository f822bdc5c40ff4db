"""Faults in a workload's own spec: images, configuration, scheduling and probes."""

from __future__ import annotations

from kubernetes import client as k8s

from sandbox.faults import checks
from sandbox.faults.changes import Change
from sandbox.faults.model import (
    Fault,
    Result,
    _cause,
    _container,
    _forbid,
    _restart,
    _rolled_out_and_good,
    config_valid,
)
from sandbox.images import CURRENT, REGISTRY

# A bad tag per service: what a "bad deploy" rolls out.
BAD_TAGS = {"predictor": "1.5.0", "api-gateway": "2.8.0"}


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
