"""Deployment status conditions, computed as ``pkg/controller/deployment/progress.go`` does."""

from __future__ import annotations

from sandbox.sim.objects import Obj, iso, parse_iso, set_condition

ROLLOUT_COUNTS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")


def progressed(before: dict[str, int], after: dict[str, int]) -> bool:
    """Whether the rollout moved: more updated, ready or available replicas, or fewer old ones."""
    grew = any(after.get(k, 0) > before.get(k, 0) for k in ROLLOUT_COUNTS[1:])
    old_before = before.get("replicas", 0) - before.get("updatedReplicas", 0)
    old_after = after.get("replicas", 0) - after.get("updatedReplicas", 0)
    return grew or old_after < old_before


def rollout_conditions(
    deployment: Obj,
    rs_name: str,
    replicas: tuple[int, int],
    counts: dict[str, int],
    moved: bool,
    created: bool,
    now: float,
) -> list[Obj]:
    """The Deployment's Available and Progressing conditions, as the deployment controller sets them.

    ``replicas`` is (desired, minimum available); ``moved`` says the rollout made progress since the
    last status; ``created`` that the new ReplicaSet was just created.
    """
    desired, min_available = replicas
    stamp = iso(now)
    conditions: list[Obj] = list((deployment.get("status") or {}).get("conditions") or [])
    if counts["availableReplicas"] >= min_available:
        available = ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    else:
        available = (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    before = next((c for c in conditions if c.get("type") == "Available"), None)
    kept = (
        before is not None and before.get("status") == available[0] and before.get("reason") == available[1]
    )
    conditions = set_condition(
        conditions,
        {
            "type": "Available",
            "status": available[0],
            "reason": available[1],
            "message": available[2],
            "lastUpdateTime": before.get("lastUpdateTime", stamp) if kept and before else stamp,
        },
        stamp,
    )
    complete = (
        counts["updatedReplicas"] == desired
        and counts["replicas"] == desired
        and counts["availableReplicas"] >= desired
    )
    old = next((c for c in conditions if c.get("type") == "Progressing"), None)
    if created:
        progressing = ("True", "NewReplicaSetCreated", f'Created new replica set "{rs_name}"')
    elif complete:
        progressing = (
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs_name}" has successfully progressed.',
        )
    elif moved or old is None:
        progressing = ("True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
    else:
        deadline = float(deployment["spec"].get("progressDeadlineSeconds", 600))
        since = parse_iso(old.get("lastUpdateTime")) or now
        if old.get("reason") == "ProgressDeadlineExceeded" or now - since > deadline:
            progressing = (
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
            )
        else:
            return conditions
    same = old is not None and old.get("reason") == progressing[1] and old.get("message") == progressing[2]
    update_time = old.get("lastUpdateTime", stamp) if same and old is not None and not moved else stamp
    return set_condition(
        conditions,
        {
            "type": "Progressing",
            "status": progressing[0],
            "reason": progressing[1],
            "message": progressing[2],
            "lastUpdateTime": update_time,
        },
        stamp,
    )
