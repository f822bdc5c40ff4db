"""The deployment controller: one ReplicaSet per pod template, revisions, rolling updates, status.

Follows ``pkg/controller/deployment`` closely enough that ``kubectl rollout`` behaves as on a real
cluster: a template change creates (or, for a rollback, re-uses) a ReplicaSet whose
``deployment.kubernetes.io/revision`` becomes the highest; RollingUpdate respects maxSurge and
maxUnavailable, so a new ReplicaSet whose pods never become ready stalls the rollout while the old
pods keep serving; Progressing turns False with ProgressDeadlineExceeded after
``progressDeadlineSeconds`` without progress. ``spec.paused`` is ignored.
"""

from __future__ import annotations

import contextlib
import copy

from sandbox.kube.store import Conflict, NotFound
from sandbox.sim.deployment_status import progressed, rollout_conditions
from sandbox.sim.events import EventRecorder
from sandbox.sim.objects import (
    CHANGE_CAUSE,
    HASH_LABEL,
    REVISION,
    REVISION_HISTORY,
    Clock,
    Obj,
    int_or_percent,
    owner_ref,
    owner_uid,
    same_template,
    template_hash,
)
from sandbox.sim.view import StoreView

COMPONENT = "deployment-controller"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"


def _revision(rs: Obj) -> int:
    try:
        return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _replicas(rs: Obj) -> int:
    return int(rs.get("spec", {}).get("replicas", 0) or 0)


def _desired_annotation(rs: Obj) -> int | None:
    value = (rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS)
    return int(value) if value is not None and str(value).isdigit() else None


def _available(rs: Obj) -> int:
    return int(rs.get("status", {}).get("availableReplicas", 0) or 0)


class DeploymentController:
    """Reconciles every Deployment in the store, one pass per :meth:`sync`."""

    def __init__(self, store: StoreView, events: EventRecorder, clock: Clock) -> None:
        self._store = store
        self._events = events
        self._clock = clock

    def sync(self) -> None:
        replica_sets = self._store.list("replicasets")
        for deployment in self._store.list("deployments"):
            uid = deployment["metadata"]["uid"]
            owned = [rs for rs in replica_sets if owner_uid(rs) == uid]
            try:
                self._sync_one(deployment, owned)
            except (NotFound, Conflict):
                continue  # changed under us; the next pass sees the new state

    # --- one deployment -------------------------------------------------------------------------
    def _sync_one(self, deployment: Obj, owned: list[Obj]) -> None:
        template = deployment["spec"]["template"]
        new_rs = next((rs for rs in owned if same_template(rs["spec"]["template"], template)), None)
        old = [rs for rs in owned if new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        max_old = max((_revision(rs) for rs in old), default=0)
        created = False
        if new_rs is None:
            new_rs = self._create_rs(deployment, max_old + 1)
            created = True
        elif _revision(new_rs) <= max_old:
            new_rs = self._bump_revision(deployment, new_rs, max_old + 1)
        replicas = deployment["spec"].get("replicas")
        desired = 1 if replicas is None else int(replicas)
        strategy = deployment["spec"].get("strategy") or {}
        if strategy.get("type") == "Recreate":
            self._recreate(deployment, new_rs, old, desired)
        else:
            self._rolling(deployment, new_rs, old, desired)
        self._cleanup(deployment, old)
        self._write_status(deployment, new_rs, old, desired, created)

    def _create_rs(self, deployment: Obj, revision: int) -> Obj:
        meta = deployment["metadata"]
        template = copy.deepcopy(deployment["spec"]["template"])
        collision = int(deployment.get("status", {}).get("collisionCount", 0) or 0)
        pod_hash = template_hash(template, collision)
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(deployment["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        annotations = {REVISION: str(revision), **self._rs_annotations(deployment)}
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{pod_hash}",
                "namespace": meta["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [owner_ref({"apiVersion": "apps/v1", **deployment})],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": deployment["spec"].get("minReadySeconds", 0),
                "selector": selector,
                "template": template,
            },
            "status": {"replicas": 0, "observedGeneration": 0},
        }
        try:
            return self._store.create("replicasets", rs)
        except Conflict:
            # A hash collision with a ReplicaSet of another template: bump collisionCount and retry.
            self._store.mutate(
                "deployments",
                meta["namespace"],
                meta["name"],
                lambda d: d.setdefault("status", {}).__setitem__("collisionCount", collision + 1),
            )
            raise

    def _rs_annotations(self, deployment: Obj) -> dict[str, str]:
        annotations = deployment["metadata"].get("annotations") or {}
        desired = deployment["spec"].get("replicas", 1)
        out = {
            DESIRED_REPLICAS: str(desired),
            "deployment.kubernetes.io/max-replicas": str(desired + self._surge(deployment, desired)),
        }
        if CHANGE_CAUSE in annotations:
            out[CHANGE_CAUSE] = annotations[CHANGE_CAUSE]
        return out

    def _bump_revision(self, deployment: Obj, rs: Obj, revision: int) -> Obj:
        """A rollback re-uses the old ReplicaSet and gives it the next revision number."""
        extra = self._rs_annotations(deployment)

        def bump(obj: Obj) -> None:
            ann = obj["metadata"].setdefault("annotations", {})
            previous = ann.get(REVISION)
            if previous:
                history = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
                ann[REVISION_HISTORY] = ",".join([*history, previous])
            ann[REVISION] = str(revision)
            ann.update(extra)

        meta = rs["metadata"]
        return self._store.mutate("replicasets", meta["namespace"], meta["name"], bump)

    # --- strategies -----------------------------------------------------------------------------
    @staticmethod
    def _surge(deployment: Obj, desired: int) -> int:
        rolling = (deployment["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        return int_or_percent(rolling.get("maxSurge", "25%"), desired, round_up=True)

    @staticmethod
    def _max_unavailable(deployment: Obj, desired: int) -> int:
        strategy = deployment["spec"].get("strategy") or {}
        if strategy.get("type") == "Recreate":
            return 0
        rolling = strategy.get("rollingUpdate") or {}
        surge = int_or_percent(rolling.get("maxSurge", "25%"), desired, round_up=True)
        unavailable = int_or_percent(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return min(unavailable, desired)

    def _rolling(self, deployment: Obj, new_rs: Obj, old: list[Obj], desired: int) -> None:
        active_old = [rs for rs in old if _replicas(rs) > 0]
        active = [rs for rs in [new_rs, *active_old] if _replicas(rs) > 0]
        if len(active) > 1 and any(_desired_annotation(rs) != desired for rs in active):
            self._proportional(deployment, active, desired)
            return
        if not active_old:
            if _replicas(new_rs) != desired:
                self._scale(deployment, new_rs, desired)
            return
        # Scale the new ReplicaSet up, within maxSurge.
        all_rs = [new_rs, *old]
        if _replicas(new_rs) > desired:
            self._scale(deployment, new_rs, desired)
        elif _replicas(new_rs) < desired:
            max_total = desired + self._surge(deployment, desired)
            current = sum(_replicas(rs) for rs in all_rs)
            if current < max_total:
                step = min(max_total - current, desired - _replicas(new_rs))
                new_rs = self._scale(deployment, new_rs, _replicas(new_rs) + step)
        # Scale old ReplicaSets down, within maxUnavailable.
        all_rs = [new_rs, *old]
        min_available = desired - self._max_unavailable(deployment, desired)
        new_unavailable = max(_replicas(new_rs) - _available(new_rs), 0)
        budget = sum(_replicas(rs) for rs in all_rs) - min_available - new_unavailable
        if budget <= 0:
            return
        old_sorted = sorted(active_old, key=lambda rs: (_revision(rs), rs["metadata"]["name"]))
        # First the old pods that are not available anyway (they serve nothing).
        for rs in old_sorted:
            unhealthy = _replicas(rs) - _available(rs)
            if budget <= 0 or unhealthy <= 0:
                continue
            step = min(budget, unhealthy)
            budget -= step
            rs.update(self._scale(deployment, rs, _replicas(rs) - step))
        available = sum(_available(rs) for rs in [new_rs, *old_sorted])
        spare = min(available - min_available, budget)
        for rs in old_sorted:
            if spare <= 0:
                break
            step = min(_replicas(rs), spare)
            if step > 0:
                spare -= step
                rs.update(self._scale(deployment, rs, _replicas(rs) - step))

    def _proportional(self, deployment: Obj, active: list[Obj], desired: int) -> None:
        """A scale in the middle of a rollout: every active ReplicaSet grows or shrinks in proportion."""
        allowed = desired + self._surge(deployment, desired)
        total = sum(_replicas(rs) for rs in active)
        to_add = allowed - total
        ordered = sorted(active, key=lambda rs: (-_replicas(rs), -_revision(rs)))
        targets: dict[str, int] = {}
        for rs in ordered:
            share = int(to_add * _replicas(rs) / total) if total else 0
            targets[rs["metadata"]["name"]] = max(_replicas(rs) + share, 0)
        leftover = allowed - sum(targets.values())
        first = ordered[0]["metadata"]["name"]
        targets[first] = max(targets[first] + leftover, 0)
        for rs in ordered:
            scaled = self._scale(deployment, rs, targets[rs["metadata"]["name"]])
            if _desired_annotation(scaled) != desired:
                self._annotate(deployment, scaled)

    def _annotate(self, deployment: Obj, rs: Obj) -> None:
        annotations = {k: v for k, v in self._rs_annotations(deployment).items() if k != CHANGE_CAUSE}
        meta = rs["metadata"]
        self._store.mutate(
            "replicasets",
            meta["namespace"],
            meta["name"],
            lambda o: o["metadata"].setdefault("annotations", {}).update(annotations),
        )

    def _recreate(self, deployment: Obj, new_rs: Obj, old: list[Obj], desired: int) -> None:
        active_old = [rs for rs in old if _replicas(rs) > 0]
        for rs in active_old:
            self._scale(deployment, rs, 0)
        old_uids = {rs["metadata"]["uid"] for rs in old}
        namespace = deployment["metadata"]["namespace"]
        old_pods = [p for p in self._store.list("pods", namespace) if owner_uid(p) in old_uids]
        if not active_old and not old_pods and _replicas(new_rs) != desired:
            self._scale(deployment, new_rs, desired)

    def _scale(self, deployment: Obj, rs: Obj, replicas: int) -> Obj:
        before = _replicas(rs)
        if before == replicas:
            return rs
        annotations = self._rs_annotations(deployment)

        def scale(obj: Obj) -> None:
            obj["spec"]["replicas"] = replicas
            obj["metadata"].setdefault("annotations", {}).update(
                {k: v for k, v in annotations.items() if k != CHANGE_CAUSE}
            )

        meta = rs["metadata"]
        updated = self._store.mutate("replicasets", meta["namespace"], meta["name"], scale)
        verb = "up" if replicas > before else "down"
        self._events.record(
            deployment,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled {verb} replica set {meta['name']} to {replicas} from {before}",
            component=COMPONENT,
        )
        return updated

    def _cleanup(self, deployment: Obj, old: list[Obj]) -> None:
        limit = deployment["spec"].get("revisionHistoryLimit", 10)
        idle = sorted(
            (rs for rs in old if _replicas(rs) == 0 and not rs.get("status", {}).get("replicas")),
            key=_revision,
        )
        for rs in idle[: max(len(idle) - int(limit), 0)]:
            with contextlib.suppress(NotFound):
                self._store.delete("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])

    # --- status ---------------------------------------------------------------------------------
    def _write_status(
        self, deployment: Obj, new_rs: Obj, old: list[Obj], desired: int, created: bool
    ) -> None:
        meta = deployment["metadata"]
        live = {rs["metadata"]["name"]: rs for rs in self._store.list("replicasets", meta["namespace"])}
        fresh = [live.get(rs["metadata"]["name"]) for rs in [new_rs, *old]]
        current = [rs for rs in fresh if rs is not None]
        new_now = (
            current[0] if current and current[0]["metadata"]["uid"] == new_rs["metadata"]["uid"] else new_rs
        )
        counts = {
            "replicas": sum(int(rs.get("status", {}).get("replicas", 0) or 0) for rs in current),
            "updatedReplicas": int(new_now.get("status", {}).get("replicas", 0) or 0),
            "readyReplicas": sum(int(rs.get("status", {}).get("readyReplicas", 0) or 0) for rs in current),
            "availableReplicas": sum(_available(rs) for rs in current),
        }
        counts["unavailableReplicas"] = max(desired - counts["availableReplicas"], 0)
        now = self._clock()
        status = deployment.get("status") or {}
        previous = {k: int(status.get(k, 0) or 0) for k in counts}
        min_available = desired - self._max_unavailable(deployment, desired)
        conditions = rollout_conditions(
            deployment,
            new_now["metadata"]["name"],
            (desired, min_available),
            counts,
            progressed(previous, counts) or created,
            created,
            now,
        )
        target = {
            **{k: v for k, v in status.items() if k in ("collisionCount",)},
            "observedGeneration": meta.get("generation", 1),
            **{k: v for k, v in counts.items() if v or k == "replicas"},
            "conditions": conditions,
        }
        revision = new_now["metadata"]["annotations"][REVISION]
        if target == status and (meta.get("annotations") or {}).get(REVISION) == revision:
            return

        def write(obj: Obj) -> None:
            obj["status"] = target
            obj["metadata"].setdefault("annotations", {})[REVISION] = revision

        self._store.mutate("deployments", meta["namespace"], meta["name"], write)
