"""The seeded platform's past: it has run for weeks, so nothing looks freshly changed at start-up.

The agent's triage treats recent changes as suspects (new ReplicaSets, ScalingReplicaSet events
"from 0", ConfigMaps and Services whose managedFields were written recently). A sandbox whose objects
were all created a second ago would make every deployment and ConfigMap a suspect. So the seed
stamps each object with a plausible history, relative to the start of the day it is seeded on:

==========================  ==============================================================
cluster (namespaces, nodes)  created ``CLUSTER_AGE`` ago
platform install             ConfigMaps, Secrets, Services, Deployments, HPAs and the
                             revision-1 ReplicaSets, ``INSTALLED`` ago
config last applied          ConfigMaps, ``CONFIG_APPLIED`` ago
current release              the revision-2 ReplicaSets (created at full scale, so the
                             deployment controller adopts them instead of rolling out) and
                             the deployments' last apply, ``RELEASED`` ago (staging got the
                             release ``STAGING_LEAD`` earlier)
==========================  ==============================================================

Each object carries a ``metadata.managedFields`` entry at its last write (``kubectl-client-side-apply``
for what a human applied, ``kube-controller-manager`` for ReplicaSets), as a real server records it.
Pods are the exception: the simulation's ReplicaSet controller creates them at start-up, like pods
recreated after a node restart.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

from sandbox.kube.managed import seeded_entry
from sandbox.sim.objects import (
    CHANGE_CAUSE,
    HASH_LABEL,
    REVISION,
    Obj,
    int_or_percent,
    iso,
    owner_ref,
    template_hash,
)

DAY = 86_400.0
CLUSTER_AGE = 41 * DAY
INSTALLED = 38 * DAY
CONFIG_APPLIED = 13 * DAY + 5_400.0
RELEASED = 6 * DAY + 3 * 3_600.0
STAGING_LEAD = DAY + 2 * 3_600.0
CONTROLLER_MANAGER = "kube-controller-manager"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
STAGING_SUFFIX = "-staging"

# resource -> how long before "now" the objects of that kind were created and last written
_CREATED = {"namespaces": CLUSTER_AGE, "nodes": CLUSTER_AGE}
_WRITTEN = {"configmaps": CONFIG_APPLIED, "horizontalpodautoscalers": INSTALLED - 2 * DAY}


@dataclass(frozen=True)
class Timeline:
    """Points in the platform's past, as epoch seconds, relative to ``now`` (the moment of seeding)."""

    now: float

    @classmethod
    def starting_now(cls, now: float | None = None) -> Timeline:
        """The timeline of a platform seeded at ``now`` (default: the current time), taken to the start
        of its day (UTC), so a re-seed on the same day (``sandbox reset``) writes the very same past."""
        moment = time.time() if now is None else now
        return cls(moment - moment % DAY)

    def created(self, resource: str) -> float:
        return self.now - _CREATED.get(resource, INSTALLED)

    def written(self, resource: str, namespace: str = "") -> float:
        if resource == "deployments":
            return self.released(namespace)
        return self.now - _WRITTEN.get(resource, _CREATED.get(resource, INSTALLED))

    def released(self, namespace: str) -> float:
        """When the running release rolled out in ``namespace`` (staging got it first)."""
        lead = STAGING_LEAD if namespace.endswith(STAGING_SUFFIX) else 0.0
        return self.now - RELEASED - lead


def backdate(resource: str, obj: Obj, past: Timeline) -> Obj:
    """Stamp ``obj`` (in place; returned) with its creation time, last write and node condition times."""
    meta = obj.setdefault("metadata", {})
    namespace = meta.get("namespace", "")
    meta["creationTimestamp"] = iso(past.created(resource))
    meta["managedFields"] = seeded_entry(obj, iso(past.written(resource, namespace)))
    if resource == "nodes":
        since = iso(past.created(resource))
        for cond in obj.get("status", {}).get("conditions") or []:
            cond.setdefault("lastTransitionTime", since)
            cond.setdefault("lastHeartbeatTime", since)
    return obj


def replica_set(deployment: Obj, template: Obj, revision: int, replicas: int, created: float) -> Obj:
    """The ReplicaSet the deployment controller made for ``template`` (revision ``revision``) at ``created``.

    Named, labelled and annotated exactly as ``sandbox.sim.deployments`` would, so the controller
    adopts it as its own; ``replicas`` is its scale (the desired count for the current revision).
    """
    meta = deployment["metadata"]
    template = _hashed(template)
    pod_hash = template["metadata"]["labels"][HASH_LABEL]
    desired = int(deployment["spec"].get("replicas", 1))
    annotations = {
        REVISION: str(revision),
        DESIRED_REPLICAS: str(desired),
        MAX_REPLICAS: str(desired + _surge(deployment, desired)),
    }
    annotations[CHANGE_CAUSE] = _cause(meta["name"], template)
    selector = dict(deployment["spec"]["selector"]["matchLabels"])
    rs: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta["namespace"],
            "labels": dict(template["metadata"]["labels"]),
            "annotations": annotations,
            "ownerReferences": [owner_ref({"apiVersion": "apps/v1", **deployment})],
            "creationTimestamp": iso(created),
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": deployment["spec"].get("minReadySeconds", 0),
            "selector": {"matchLabels": {**selector, HASH_LABEL: pod_hash}},
            "template": template,
        },
        "status": {"replicas": 0, "observedGeneration": 1},
    }
    rs["metadata"]["managedFields"] = seeded_entry(rs, iso(created), CONTROLLER_MANAGER)
    return rs


def _hashed(template: Obj) -> Obj:
    out = copy.deepcopy(template)
    out.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = template_hash(template)
    return out


def _surge(deployment: Obj, desired: int) -> int:
    rolling = (deployment["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    return int_or_percent(rolling.get("maxSurge", "25%"), desired, round_up=True)


def _cause(app: str, template: Obj) -> str:
    image = template["spec"]["containers"][0]["image"]
    return f"deploy {app} {image.rsplit(':', 1)[1]}"
