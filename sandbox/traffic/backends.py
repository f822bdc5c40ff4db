"""The stateful backends traffic passes through: database connection pools, cache warmth, the queue.

Each reads only object state (env resolved by the kubelet, readiness, uptime) and what the
engine measured this tick, so a changed ``MAX_CONNECTIONS`` or ``POOL_SIZE`` acts when the pod that
reads it restarts, exactly as it would in a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.traffic.flow import upstream_kind
from sandbox.traffic.state import DbState, QueueState
from sandbox.traffic.world import PodView, World

CACHE_HIT_RATIO = 0.6  # share of lookups a warm cache answers
CACHE_WARMUP_S = 30.0  # a restarted cache is empty and fills up over this long
QUEUE_IN_FLIGHT_S = 0.2  # a healthy consumer still has about this much in flight


def cache_hit_ratio(cache: PodView, now: float) -> float:
    """Hit ratio of one cache pod: lower while it warms up after a (re)start."""
    warm = min(1.0, cache.main.uptime(now) / CACHE_WARMUP_S)
    return CACHE_HIT_RATIO * warm


def _int_env(pod: PodView, name: str | None, default: int) -> int:
    if not name:
        return default
    try:
        return int(pod.env.get(name, default))
    except ValueError:
        return default


@dataclass
class PoolPlan:
    """Connections wanted from one database app, and the share of new connections it rejects."""

    demand: int
    max: int

    @property
    def reject_share(self) -> float:
        return max(0.0, 1.0 - self.max / self.demand) if self.demand > self.max else 0.0


def plan_pools(world: World, namespace: str, last: dict[tuple[str, str], DbState]) -> dict[str, PoolPlan]:
    """Pool demand on each database app of a namespace: sum of client pools vs ``MAX_CONNECTIONS``.

    A client pod opens ``POOL_SIZE`` connections (its image's ``pool_size_env``) to each database it
    reaches and authenticates to; a database accepts up to its ``max_connections_env`` value.
    """
    plans: dict[str, PoolPlan] = {}
    for pod in world.pods.get(namespace, []):
        profile = pod.profile
        if not pod.running or profile is None:
            continue
        for key, env in profile.upstreams.items():
            if upstream_kind(key) != "db" or not pod.env.get(env):
                continue
            res = world.resolve(namespace, pod.env[env])
            pw_env = profile.upstream_password_env.get(key)
            client_pw = pod.env.get(pw_env) if pw_env else None
            for db in res.good:
                needs = db.profile.needs_password_env if db.profile else None
                if needs and db.env.get(needs) is not None and db.env.get(needs) != client_pw:
                    continue
                pool = _int_env(pod, profile.pool_size_env, profile.default_pool_size)
                plan = plans.setdefault(db.app, PoolPlan(0, 0))
                plan.demand += max(pool // len(res.good), 1)
    for app, pods in world.apps(namespace).items():
        maxes = [
            _int_env(p, p.profile.max_connections_env, p.profile.default_max_connections)
            for p in pods
            if p.ready and p.profile is not None and p.profile.max_connections_env
        ]
        known = last.get((namespace, app))
        if maxes or known:
            plan = plans.setdefault(app, PoolPlan(0, 0))
            plan.max = sum(maxes) if maxes else int(known.max if known else 0)
    return plans


def advance_queue(state: QueueState, published: float, consumed: float, dt: float) -> None:
    """Move a queue forward one tick: depth, consumed counter, and consumer lag (Little's law)."""
    state.depth = max(0.0, state.depth + (published - consumed) * dt)
    state.consumed += consumed * dt
    state.published_rate = published
    if published > 0:
        state.lag_s = state.depth / published + (QUEUE_IN_FLIGHT_S if consumed > 0 else 0.0)
    elif state.depth > 0:
        state.lag_s += dt
    else:
        state.lag_s = 0.0


def consumer_capacity(pod: PodView, now: float) -> float:
    """Messages/s one consumer pod takes when it can reach its queue and database (0 if stalled)."""
    profile = pod.profile
    if profile is None or not pod.running or not pod.ready or profile.consumes_per_s <= 0:
        return 0.0
    if profile.stall_after_s is not None and pod.main.uptime(now) >= profile.stall_after_s:
        return 0.0
    return profile.consumes_per_s


def is_stalled(pod: PodView, now: float) -> bool:
    """Whether a consumer pod's image has stopped consuming (its ``stall_after_s`` has passed)."""
    profile = pod.profile
    return bool(
        profile is not None
        and profile.stall_after_s is not None
        and pod.running
        and pod.main.uptime(now) >= profile.stall_after_s
    )
