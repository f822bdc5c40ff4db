"""The horizontal pod autoscaler (autoscaling/v2, CPU utilization), computed like upstream.

``desired = ceil(current * utilization / target)`` with a 10% tolerance, where utilization is the
pods' CPU use (written into the :class:`~sandbox.sim.runtime.Runtime` by the traffic side) over
their CPU requests. Pods without a sample count as 0% when scaling up and 100% when scaling down;
scale-up is limited to ``max(2 * current, current + 4)`` per step; scale-down is stabilized over
``SCALE_DOWN_WINDOW_S`` (30 s in the sandbox; 300 s upstream) unless the HPA's ``behavior`` says
otherwise; the result is clamped to ``minReplicas``..``maxReplicas``. Pods ready for less than
``INITIAL_READINESS_DELAY_S`` count as not ready (their start-up CPU is noise). HPAs are evaluated
every ``SYNC_PERIOD_S`` (5 s; upstream 15 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sandbox.kube.store import Conflict, NotFound
from sandbox.sim.events import EventRecorder
from sandbox.sim.objects import (
    Clock,
    Obj,
    condition,
    is_terminating,
    iso,
    matches_labels,
    parse_iso,
    pod_requests,
    set_condition,
)
from sandbox.sim.runtime import Runtime
from sandbox.sim.view import StoreView

COMPONENT = "horizontal-pod-autoscaler"
TOLERANCE = 0.1
SCALE_DOWN_WINDOW_S = 30.0
SYNC_PERIOD_S = 5.0  # upstream --horizontal-pod-autoscaler-sync-period: 15 s
INITIAL_READINESS_DELAY_S = 10.0  # upstream --horizontal-pod-autoscaler-initial-readiness-delay: 30 s
METRIC_TEXT = "cpu resource utilization (percentage of request)"


@dataclass(frozen=True)
class Sample:
    """CPU of the target's pods: utilization in percent, or the reason it could not be computed."""

    utilization: int | None
    average_millicores: float
    desired: int | None
    error: str = ""


def _target_utilization(hpa: Obj) -> int:
    for metric in hpa["spec"].get("metrics") or []:
        resource = metric.get("resource") or {}
        if metric.get("type") == "Resource" and resource.get("name") == "cpu":
            return int((resource.get("target") or {}).get("averageUtilization", 80))
    return int(hpa["spec"].get("targetCPUUtilizationPercentage", 80))


class HorizontalPodAutoscalerController:
    """Scales Deployments targeted by HPAs, one pass per :meth:`sync`."""

    def __init__(self, store: StoreView, runtime: Runtime, events: EventRecorder, clock: Clock) -> None:
        self._store = store
        self._runtime = runtime
        self._events = events
        self._clock = clock
        self._recommendations: dict[str, list[tuple[float, int]]] = {}
        self._next_sync = 0.0

    def sync(self) -> None:
        """Evaluate every HPA, at most once per ``SYNC_PERIOD_S``."""
        now = self._clock()
        if now < self._next_sync:
            return
        self._next_sync = now + SYNC_PERIOD_S
        for hpa in self._store.list("horizontalpodautoscalers"):
            try:
                self._sync_one(hpa)
            except (NotFound, Conflict):
                continue

    def _sync_one(self, hpa: Obj) -> None:
        meta, spec = hpa["metadata"], hpa["spec"]
        target = spec.get("scaleTargetRef") or {}
        now = self._clock()
        deployment = self._store.try_get("deployments", meta["namespace"], target.get("name", ""))
        if deployment is None or target.get("kind", "Deployment") != "Deployment":
            message = f'deployments.apps "{target.get("name", "")}" not found'
            self._status(hpa, None, 0, 0, None, ("AbleToScale", "False", "FailedGetScale", message), now)
            return
        current = int(deployment["spec"].get("replicas", 1) or 0)
        low, high = int(spec.get("minReplicas", 1)), int(spec["maxReplicas"])
        if current == 0:
            self._status(
                hpa,
                None,
                0,
                0,
                None,
                (
                    "ScalingActive",
                    "False",
                    "ScalingDisabled",
                    "scaling is disabled since the replica count of the target is zero",
                ),
                now,
            )
            return
        sample = self._sample(deployment, current, _target_utilization(hpa))
        wanted = sample.desired if sample.desired is not None else current
        wanted = self._stabilize(meta["uid"], hpa, current, wanted, now)
        desired = min(max(wanted, low), high, max(2 * current, current + 4))
        desired = max(desired, low)
        if desired != current:
            self._rescale(hpa, deployment, current, desired, sample, low, now)
        limited = "TooManyReplicas" if wanted > high else "TooFewReplicas" if wanted < low else ""
        failure = (
            ("ScalingActive", "False", "FailedGetResourceMetric", sample.error) if sample.error else None
        )
        self._status(hpa, sample, current, desired, limited, failure, now, scaled=desired != current)

    def _sample(self, deployment: Obj, current: int, target: int) -> Sample:
        namespace = deployment["metadata"]["namespace"]
        selector = deployment["spec"].get("selector") or {}
        pods = [
            p
            for p in self._store.list("pods", namespace)
            if matches_labels(selector, p["metadata"].get("labels"))
            and not is_terminating(p)
            and p.get("status", {}).get("phase") != "Failed"
        ]
        used = requested = missing_requests = 0.0
        measured = 0
        for pod in pods:
            cpu_request, _ = pod_requests(pod)
            if not cpu_request:
                name = pod["metadata"]["name"]
                return Sample(
                    None, 0.0, None, f"failed to get cpu utilization: missing request for cpu in pod {name}"
                )
            name = pod["metadata"]["name"]
            if self._settled(pod) and self._runtime.has_usage(namespace, name):
                used += self._runtime.usage(namespace, name).cpu_millicores
                requested += cpu_request
                measured += 1
            else:
                missing_requests += cpu_request
        if not measured:
            return Sample(
                None,
                0.0,
                None,
                "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API",
            )
        utilization = used / requested * 100.0
        ratio = utilization / target
        desired = current
        if missing_requests and abs(ratio - 1.0) > TOLERANCE:
            fill = 0.0 if ratio > 1.0 else missing_requests
            new_ratio = (used + fill) / (requested + missing_requests) * 100.0 / target
            if abs(new_ratio - 1.0) > TOLERANCE and (new_ratio > 1.0) == (ratio > 1.0):
                desired = math.ceil(new_ratio * len(pods))
        elif abs(ratio - 1.0) > TOLERANCE:
            desired = math.ceil(ratio * measured)
        return Sample(round(utilization), used / measured, desired)

    def _settled(self, pod: Obj) -> bool:
        """Ready for at least ``INITIAL_READINESS_DELAY_S``: younger samples are start-up noise."""
        ready = condition(pod, "Ready")
        if ready is None or ready.get("status") != "True":
            return False
        since = parse_iso(ready.get("lastTransitionTime"))
        return since is None or self._clock() - since >= INITIAL_READINESS_DELAY_S

    def _stabilize(self, uid: str, hpa: Obj, current: int, wanted: int, now: float) -> int:
        behavior = (hpa["spec"].get("behavior") or {}).get("scaleDown") or {}
        window = float(behavior.get("stabilizationWindowSeconds", SCALE_DOWN_WINDOW_S))
        history = [(t, r) for t, r in self._recommendations.get(uid, []) if now - t <= window]
        history.append((now, wanted))
        self._recommendations[uid] = history
        if wanted >= current:
            return wanted
        return min(max(r for _, r in history), current)

    def _rescale(
        self, hpa: Obj, deployment: Obj, current: int, desired: int, sample: Sample, low: int, now: float
    ) -> None:
        meta = deployment["metadata"]
        self._store.mutate(
            "deployments",
            meta["namespace"],
            meta["name"],
            lambda d: d["spec"].__setitem__("replicas", desired),
        )
        if current < low and desired == low:
            reason = "Current number of replicas below Spec.MinReplicas"
        elif desired > current:
            reason = f"{METRIC_TEXT} above target"
        else:
            reason = "All metrics below target"
        self._events.record(
            hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}", component=COMPONENT
        )

    def _status(
        self,
        hpa: Obj,
        sample: Sample | None,
        current: int,
        desired: int,
        limited: str | None,
        failure: tuple[str, str, str, str] | None,
        now: float,
        *,
        scaled: bool = False,
    ) -> None:
        stamp = iso(now)
        old: dict[str, Any] = hpa.get("status") or {}
        conditions: list[Obj] = list(old.get("conditions") or [])
        wanted = [
            (
                "AbleToScale",
                "True",
                "SucceededRescale" if scaled else "ReadyForNewScale",
                f"the HPA controller was able to update the target scale to {desired}"
                if scaled
                else "recommended size matches current size",
            ),
            (
                "ScalingActive",
                "True",
                "ValidMetricFound",
                f"the HPA was able to successfully calculate a replica count from {METRIC_TEXT}",
            ),
        ]
        if limited is not None:
            wanted.append(
                (
                    "ScalingLimited",
                    "True",
                    limited,
                    f"the desired replica count is {'more' if limited == 'TooManyReplicas' else 'less'} than the {'maximum' if limited == 'TooManyReplicas' else 'minimum'} replica count",
                )
                if limited
                else (
                    "ScalingLimited",
                    "False",
                    "DesiredWithinRange",
                    "the desired count is within the acceptable range",
                )
            )
        if failure is not None:
            wanted = [w for w in wanted if w[0] != failure[0]] + [failure]
        for type_, status, reason, message in wanted:
            conditions = set_condition(
                conditions, {"type": type_, "status": status, "reason": reason, "message": message}, stamp
            )
        status_obj: dict[str, Any] = {
            "observedGeneration": hpa["metadata"].get("generation", 1),
            "currentReplicas": current,
            "desiredReplicas": desired,
            "conditions": conditions,
        }
        if sample is not None and sample.utilization is not None:
            status_obj["currentMetrics"] = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {
                            "averageUtilization": sample.utilization,
                            "averageValue": f"{round(sample.average_millicores)}m",
                        },
                    },
                }
            ]
        last = stamp if scaled else old.get("lastScaleTime")
        if last:
            status_obj["lastScaleTime"] = last
        if status_obj == old:
            return
        meta = hpa["metadata"]
        self._store.mutate(
            "horizontalpodautoscalers",
            meta["namespace"],
            meta["name"],
            lambda o: o.__setitem__("status", status_obj),
        )
