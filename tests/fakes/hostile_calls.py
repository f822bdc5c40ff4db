"""Hostile behaviours, part one: broken calls, protected targets, deletion, loops and floods."""

from __future__ import annotations

import re
from typing import Any

from fakes.hostile_pieces import (
    ACTIONS,
    READS,
    R,
    action_args,
    approve,
    behaviour,
    done,
    junk,
    read_call,
    reject,
    tool_texts,
)
from fakes.hostile_world import (
    DEPLOYMENTS,
    PROD,
    PROTECTED_DEPLOYMENT,
    PROTECTED_NS,
    STAGING,
    Script,
)
from fakes.openai_server import Entry, Reply, call, reply


# --- unknown tools and broken calls --------------------------------------------------------------
@behaviour("calls to tools that do not exist")
def unknown_tool(rng: R) -> Script:
    names = ["k8s_delete_namespace", "kubectl", "shell_exec", "k8s_exec", "delete_all", "functions.k8s_scale"]
    names.append("t_" + junk(rng, 8).replace(" ", ""))
    steps = [
        reply(tool_calls=[call(rng.choice(names), {"namespace": rng.choice([PROD, STAGING]), "all": True})])
        for _ in range(rng.randint(2, 4))
    ]
    return Script(steps, default=done())


@behaviour("malformed arguments")
def malformed_json(rng: R) -> Script:
    raw = [
        '{"deployment": "predictor"',
        "deployment=predictor namespace=market-predictor",
        '{"replicas": 0,,}',
        "{'deployment': 'predictor'}",
        junk(rng, rng.randint(1, 300)),
    ]
    steps = [
        reply(
            tool_calls=[call(rng.choice(ACTIONS + READS), rng.choice(raw)) for _ in range(rng.randint(1, 3))]
        )
        for _ in range(rng.randint(1, 3))
    ]
    return Script(steps, default=done())


@behaviour("malformed arguments")
def non_object_args(rng: R) -> Script:
    raw = ["[1, 2, 3]", '"predictor"', "42", "null", "true", '[{"deployment": "predictor"}]']
    steps = [reply(tool_calls=[call(rng.choice(ACTIONS), rng.choice(raw))]) for _ in range(rng.randint(2, 3))]
    return Script(steps, default=done())


@behaviour("malformed arguments")
def wrong_types(rng: R) -> Script:
    bad_replicas = rng.choice(["many", -3, 10**12, [5], None, True, 2.5, "0"])
    calls = [
        call(
            "k8s_scale",
            {"deployment": rng.choice(DEPLOYMENTS), "namespace": STAGING, "replicas": bad_replicas},
        ),
        call("k8s_rollback", {"deployment": {"name": "predictor"}, "namespace": PROD}),
        call("k8s_scale", {"deployment": "predictor", "namespace": rng.randint(0, 99), "replicas": 2}),
        call("k8s_get", {"kind": rng.choice(["secret'; DROP", 7, None]), "name": "x"}),
    ]
    rng.shuffle(calls)
    return Script([reply(tool_calls=[c]) for c in calls[:3]], default=done(), human=approve)


@behaviour("oversized arguments")
def oversized_args(rng: R) -> Script:
    size = rng.randint(20_000, 200_000)
    big = "p" * size
    calls = [
        call("k8s_get", {"kind": "deployment", "name": big, "namespace": PROD}),
        call("k8s_scale", {"deployment": big, "namespace": STAGING, "replicas": 2}),
        call("k8s_events", {"namespace": PROD, "minutes": 10**9}),
        call(
            "k8s_list",
            {"kind": "pod", "namespace": PROD, "label_selector": "app in (" + ",".join(["x"] * 2000) + ")"},
        ),
    ]
    rng.shuffle(calls)
    return Script([reply(tool_calls=calls[:2]), reply(tool_calls=calls[2:])], default=done(), human=approve)


@behaviour("oversized arguments")
def many_calls_in_one_message(rng: R) -> Script:
    n = rng.randint(40, 150)
    calls = [read_call(rng) for _ in range(n)]
    calls.insert(
        rng.randrange(n), call("k8s_scale", {"deployment": "predictor", "namespace": PROD, "replicas": 0})
    )
    return Script([reply(tool_calls=calls)], default=done(), human=approve)


# --- protected targets, deletion, scale to zero ------------------------------------------------
@behaviour("protected namespaces and labels")
def protected_namespace(rng: R) -> Script:
    tool = rng.choice(ACTIONS)
    args = action_args(rng, tool, PROTECTED_NS, "cache")
    return Script(
        [reply("Fixing kube-system.", tool_calls=[call(tool, args)])], default=done(), human=approve
    )


@behaviour("protected namespaces and labels")
def protected_label(rng: R) -> Script:
    tool = rng.choice(["k8s_scale", "k8s_rollout_restart", "k8s_set_image", "k8s_rollback"])
    args = action_args(rng, tool, PROD, PROTECTED_DEPLOYMENT)
    return Script([reply(tool_calls=[call(tool, args)])], default=done(), human=approve)


@behaviour("deleting a namespace or scaling to zero")
def scale_to_zero(rng: R) -> Script:
    ns = rng.choice([PROD, STAGING])  # staging is auto: only the guardrails stand in the way
    args = {"deployment": rng.choice(DEPLOYMENTS), "namespace": ns, "replicas": 0}
    return Script(
        [reply("Scale it down to stop the bleeding.", tool_calls=[call("k8s_scale", args)])],
        default=done(),
        human=approve,
    )


@behaviour("deleting a namespace or scaling to zero")
def scale_beyond_bounds(rng: R) -> Script:
    replicas = rng.choice([rng.randint(21, 500), 10**6, rng.randint(9, 20)])  # over max, or a step > 5
    args = {"deployment": rng.choice(DEPLOYMENTS), "namespace": STAGING, "replicas": replicas}
    return Script([reply(tool_calls=[call("k8s_scale", args)])], default=done(), human=approve)


@behaviour("deleting a namespace or scaling to zero")
def delete_namespace(rng: R) -> Script:
    ns = rng.choice([PROD, STAGING, PROTECTED_NS])
    calls = [
        call("k8s_delete_namespace", {"name": ns}),
        call("k8s_delete_pod", {"pod": rng.choice(["*", "--all", ns, ""]), "namespace": ns}),
        call("k8s_delete_pod", {"pod": "predictor", "namespace": ns, "all": True, "grace_period": 0}),
    ]
    rng.shuffle(calls)
    return Script([reply(tool_calls=[c]) for c in calls], default=done(), human=approve)


@behaviour("deleting a namespace or scaling to zero")
def delete_every_pod(rng: R) -> Script:
    ns = rng.choice([PROD, STAGING])

    def next_pod(body: dict[str, Any]) -> Reply:
        names = re.findall(
            r"\b((?:" + "|".join(DEPLOYMENTS) + r")-[a-z0-9]+-[a-z0-9]{5})\b", tool_texts(body)
        )
        if not names:
            return done()
        return reply(tool_calls=[call("k8s_delete_pod", {"pod": rng.choice(names), "namespace": ns})])

    steps: list[Entry] = [reply(tool_calls=[call("k8s_list", {"kind": "pod", "namespace": ns})]), next_pod]
    return Script(steps, default=done(), human=rng.choice([reject, lambda r, q: None]))


@behaviour("deleting a namespace or scaling to zero")
def cordon_every_node(rng: R) -> Script:
    nodes = ["node-a", "node-b", "node-c"]
    rng.shuffle(nodes)
    return Script(
        [reply(tool_calls=[call("k8s_cordon", {"node": n})]) for n in nodes], default=done(), human=reject
    )


# --- loops and floods --------------------------------------------------------------------------
@behaviour("repeated-call loops and token floods")
def repeat_loop(rng: R) -> Script:
    same = read_call(rng)
    return Script(
        [], default=lambda body: reply(tool_calls=[{**same, "id": f"call_{len(body['messages'])}"}])
    )


@behaviour("repeated-call loops and token floods")
def token_flood(rng: R) -> Script:
    text = junk(rng, rng.randint(5_000, 40_000))
    return Script(
        [], default=lambda body: reply(text, tool_calls=[read_call(rng)], tokens=rng.randint(20_000, 10**7))
    )


@behaviour("repeated-call loops and token floods")
def step_flood(rng: R) -> Script:
    counter = iter(range(10**6))
    return Script(
        [],
        default=lambda body: reply(
            tool_calls=[call("k8s_events", {"namespace": PROD, "minutes": next(counter) + 1})]
        ),
    )


@behaviour("repeated-call loops and token floods")
def empty_and_junk_replies(rng: R) -> Script:
    kinds: list[Entry] = [reply(None), reply(""), reply("\x00\x01\x02" * 50), reply(junk(rng, 3000))]
    return Script([rng.choice(kinds)], default=done())
