"""Plausible, seeded incident records for benchmarks and tests (never mixed into a real memory).

Each generated record follows one fault class's pattern (alert, symptoms, root cause, the action
that fixed it) with a random service, namespace, date and wording, so recall has realistic
distractors: many incidents share an alert or a service but differ in the details.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from knowledge.records import ActionOutcome, Evidence, IncidentRecord, TimelineEvent

SERVICES = ("api-gateway", "predictor", "feature-store", "cache", "queue", "ingest-worker")
NAMESPACES = ("market-predictor", "market-predictor-staging")


@dataclass(frozen=True)
class Pattern:
    fault_class: str
    alertname: str
    symptoms: tuple[str, ...]
    root_cause: str
    tool: str


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "bad_deploy",
        "ServiceHighErrorRate",
        ("5xx ratio {pct}% on {svc} after rollout to {ver}", "new pods ready, errors began within a minute"),
        "rollout of {svc} {ver} returned 500 on /v1/predict",
        "k8s_rollback",
    ),
    Pattern(
        "crashloop_config",
        "KubePodCrashLooping",
        (
            "{svc} pods in CrashLoopBackOff exit code 2",
            "configmap {svc}-config key POOL_SIZE changed to {bad}",
        ),
        "invalid POOL_SIZE={bad} in {svc}-config made the container exit at start",
        "k8s_patch_configmap",
    ),
    Pattern(
        "image_pull",
        "KubeContainerWaiting",
        ("ImagePullBackOff on new {svc} pods", "image tag {ver} not found in registry"),
        "deployment {svc} pointed at a tag {ver} that was never published",
        "k8s_rollback",
    ),
    Pattern(
        "memory_leak",
        "ContainerOOMKilled",
        ("{svc} OOMKilled every {n} minutes", "working set grows {n}0 MiB per minute to the limit"),
        "memory leak in {svc} {ver} request cache",
        "k8s_rollback",
    ),
    Pattern(
        "traffic_surge",
        "KubeHpaMaxedOut",
        ("{svc} HPA at max replicas, CPU {pct}% of request", "request rate {n}x baseline, p99 latency up"),
        "traffic surge {n}x on {svc}; HPA max too low",
        "k8s_scale",
    ),
    Pattern(
        "pending_pod",
        "KubePodNotReady",
        ("{svc} pods Pending: 0/3 nodes available, insufficient memory", "requests raised to {n}0Gi"),
        "{svc} memory request typo {n}0Gi made pods unschedulable",
        "k8s_rollback",
    ),
    Pattern(
        "selector_mismatch",
        "ServiceNoEndpoints",
        ("service {svc} has no endpoints", "selector app={svc}-v2 matches no pod"),
        "service {svc} selector edited to a label no pod carries",
        "k8s_patch_service",
    ),
    Pattern(
        "db_connections",
        "DatabaseConnectionsExhausted",
        ("feature-store too many clients already", "{svc} refused connections to feature-store"),
        "MAX_CONNECTIONS lowered to {bad} in feature-store-config",
        "k8s_patch_configmap",
    ),
    Pattern(
        "cache_down",
        "CacheDown",
        ("cache has 0 available replicas", "{svc} latency up, cache errors"),
        "cache deployment scaled to zero during maintenance",
        "k8s_scale",
    ),
    Pattern(
        "queue_stalled",
        "QueueBacklogGrowing",
        (
            "queue depth rising {n}00 messages per minute",
            "ingest-worker heartbeat missed, deadlock in batch writer",
        ),
        "ingest-worker consumer thread deadlocked",
        "k8s_rollout_restart",
    ),
    Pattern(
        "readiness_probe",
        "KubeDeploymentReplicasMismatch",
        ("{svc} pods running but not ready", "readiness probe failed 404 on /readyz"),
        "readiness probe path changed to /readyz in {svc} {ver}",
        "k8s_rollback",
    ),
    Pattern(
        "node_not_ready",
        "KubeNodeNotReady",
        ("node worker-{n} NotReady, kubelet stopped posting status", "{svc} pods Unknown on worker-{n}"),
        "kubelet on worker-{n} lost its connection to the API",
        "k8s_cordon",
    ),
)


def synthetic_incident(rng: random.Random, index: int, *, now: datetime | None = None) -> IncidentRecord:
    """One random incident following a random pattern."""
    p = rng.choice(PATTERNS)
    svc = rng.choice(SERVICES)
    values = {
        "svc": svc,
        "ver": f"{rng.randint(1, 3)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
        "pct": rng.randint(5, 60),
        "n": rng.randint(2, 9),
        "bad": rng.choice(["0", "-1", "abc", "100000", "2"]),
    }
    started = (now or datetime.now(UTC)) - timedelta(minutes=rng.randint(60, 365 * 24 * 60))
    mitigated = started + timedelta(seconds=rng.randint(120, 3600))
    namespace = rng.choice(NAMESPACES)
    action = ActionOutcome(
        tool=p.tool,
        args={"deployment": svc, "namespace": namespace},
        target=f"Deployment/{namespace}/{svc}",
        outcome=rng.choice(["fixed", "fixed", "fixed", "no_effect"]),
        approved_by=rng.choice(["alice", "bob", "policy:auto"]),
        at=mitigated - timedelta(seconds=60),
    )
    return IncidentRecord(
        id=f"syn-{index:06d}",
        title=f"{p.alertname} on {svc}",
        started_at=started,
        detected_at=started + timedelta(seconds=rng.randint(20, 120)),
        mitigated_at=mitigated,
        resolved_at=mitigated + timedelta(minutes=5),
        service=svc,
        namespace=namespace,
        alertname=p.alertname,
        fault_class=p.fault_class,
        symptoms=[s.format(**values) for s in p.symptoms],
        evidence=[
            Evidence(tool="triage", args={"namespace": namespace}, summary=p.symptoms[0].format(**values))
        ],
        root_cause=p.root_cause.format(**values),
        actions=[action],
        timeline=[TimelineEvent(at=started, event="alert fired")],
        signature=f"alert={p.alertname}|service={svc}",
    )


def synthetic_incidents(n: int, seed: int = 7, *, now: datetime | None = None) -> list[IncidentRecord]:
    """``n`` reproducible incidents (same seed, same records)."""
    rng = random.Random(seed)
    when = now or datetime(2026, 1, 1, tzinfo=UTC)
    return [synthetic_incident(rng, i, now=when) for i in range(n)]
