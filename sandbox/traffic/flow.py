"""Per-pod request flow for one tick: who calls whom, how much arrives, and what comes back.

Pass 1 (callers before callees) spreads each pod's incoming requests over the calls its image
makes, through the Service resolution, and accumulates the load on the target pods. Pass 2
(callees before callers) turns each pod's CPU, its own error ratio and its upstreams' results into
the shares of requests that succeed, fail (by upstream result) or time out, and their latency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sandbox.images import cpu_millicores
from sandbox.traffic import model
from sandbox.traffic.world import PodView, Resolution

Kind = Literal["http", "db", "cache", "queue"]
Result = Literal["ok", "error", "refused", "timeout", "auth_failed"]
FAILURES: tuple[Result, ...] = ("error", "refused", "timeout", "auth_failed")
KINDS: dict[str, Kind] = {"cache": "cache", "queue": "queue", "feature-store": "db"}
NO_LIMIT_M = 4000.0  # a container without a CPU limit can use up to the node


def upstream_kind(key: str) -> Kind:
    """What an upstream is to its caller, by the logical name the image knows it as."""
    return KINDS.get(key, "http")


@dataclass
class RouteOutcome:
    """What callers of one route on one pod get: timed-out share, 5xx share, mean latency (s)."""

    shed: float = 0.0
    error: float = 0.0
    mean_s: float = 0.0


@dataclass
class Call:
    """One kind of upstream call a pod makes while serving a route."""

    upstream: str
    kind: Kind
    rps: float
    required: bool
    address: str = ""
    hit: float = 0.0  # caches: share of calls answered from the cache
    static: dict[Result, float] = field(default_factory=dict)  # failed before reaching a server
    detail: dict[Result, str] = field(default_factory=dict)  # log kind per static failure
    targets: list[tuple[PodFlow, str, float]] = field(default_factory=list)  # flow, route, share
    rejected: list[tuple[PodView, str, float]] = field(default_factory=list)  # server-side refusals

    def results(self) -> dict[Result, float]:
        """Share of calls by result, once the targets' outcomes are known (pass 2)."""
        shares: dict[Result, float] = {r: self.static.get(r, 0.0) for r in FAILURES}
        timeout_s = model.TIMEOUT_S[self.kind]
        for target, route, share in self.targets:
            out = target.outcome.get(route, RouteOutcome())
            answered = 1.0 - out.shed
            slow = model.share_slower_than(timeout_s, out.mean_s) if out.mean_s > 0 else 0.0
            shares["timeout"] += share * (out.shed + answered * slow)
            shares["error"] += share * answered * (1.0 - slow) * out.error
        shares_ok = max(0.0, 1.0 - sum(shares.values()))
        return {"ok": shares_ok, **shares}

    def latency_s(self) -> float:
        """Mean time a call takes, failures included (refused is fast, a timeout waits it out)."""
        total, weight = 0.0, 0.0
        res = self.results()
        for target, route, share in self.targets:
            out = target.outcome.get(route, RouteOutcome())
            total += share * min(out.mean_s, model.TIMEOUT_S[self.kind])
            weight += share
        ok_mean = total / weight if weight else 0.0
        return (
            (res["ok"] + res["error"]) * ok_mean
            + res["refused"] * model.REFUSED_S
            + res["auth_failed"] * model.REFUSED_S
            + res["timeout"] * model.TIMEOUT_S[self.kind]
        )


@dataclass
class PodFlow:
    """One pod's load and results during a tick."""

    pod: PodView
    incoming: dict[str, float] = field(default_factory=dict)  # route -> requests/s
    calls: dict[str, list[Call]] = field(default_factory=dict)  # route -> calls
    gates: dict[str, list[float]] = field(default_factory=dict)  # route -> share making each call
    outcome: dict[str, RouteOutcome] = field(default_factory=dict)
    failures: dict[str, list[tuple[Call, Result, float]]] = field(default_factory=dict)
    clients: dict[str, str] = field(default_factory=dict)  # route -> surge clients (for log lines)
    demand_m: float = 0.0
    limit_m: float | None = None
    served: float = 1.0

    @property
    def rps(self) -> float:
        return sum(self.incoming.values())

    def settle_cpu(self) -> None:
        """Compute CPU demand and the share of requests the pod can serve under its limit."""
        profile = self.pod.profile
        self.limit_m = self.pod.main.cpu_limit_millicores
        if profile is None:
            self.demand_m = 0.0
            return
        self.demand_m = cpu_millicores(profile, self.rps)
        self.served = model.served_fraction(self.demand_m, self.limit_m, profile.idle_cpu_millicores)

    @property
    def used_m(self) -> float:
        return min(self.demand_m, self.limit_m) if self.limit_m else self.demand_m

    @property
    def utilization(self) -> float:
        return self.demand_m / (self.limit_m or NO_LIMIT_M)

    def own_latency_s(self) -> float:
        base = (self.pod.profile.latency_ms if self.pod.profile else 10.0) / 1000.0
        return base * model.queueing_factor(self.utilization)


def route_for(target: PodView, caller_route: str, kind: Kind) -> str:
    """The route a call lands on at the target: same last path segment if it serves one, else its
    first non-health route; TCP backends get a verb (``query``, ``get``, ``consume``/``publish``)."""
    routes = target.profile.routes if target.profile else ()
    if not routes:
        return {
            "db": "query",
            "cache": "get",
            "queue": "consume" if caller_route == "consume" else "publish",
        }.get(kind, "/")
    tail = caller_route.rstrip("/").rsplit("/", 1)[-1]
    for route in routes:
        if route.rstrip("/").rsplit("/", 1)[-1] == tail:
            return route
    return next((r for r in routes if "health" not in r), routes[0])


def spread(
    res: Resolution,
    caller: PodView,
    upstream: str,
    caller_route: str,
    flows: dict[str, PodFlow],
) -> Call:
    """A call's static failures and target shares from a resolution (auth checked per target)."""
    kind = upstream_kind(upstream)
    call = Call(upstream=upstream, kind=kind, rps=0.0, required=kind != "cache", address=res.address)
    if res.failure == "no_such_host":
        call.static["error"], call.detail["error"] = 1.0, "no_such_host"
        return call
    if res.failure == "no_port":
        call.static["timeout"] = 1.0
        return call
    if res.failure == "no_endpoints" or not res.good:
        call.static["refused"] = 1.0
        return call
    call.static["refused"] = res.refused_share
    each = (1.0 - res.refused_share) / len(res.good)
    password_env = caller.profile.upstream_password_env.get(upstream) if caller.profile else None
    client_pw = caller.env.get(password_env) if password_env else None
    for target in res.good:
        needs = target.profile.needs_password_env if target.profile else None
        server_pw = target.env.get(needs) if needs else None
        flow = flows.get(target.name)
        if server_pw is not None and client_pw != server_pw:
            call.static["auth_failed"] = call.static.get("auth_failed", 0.0) + each
            call.rejected.append((target, "auth_failed", each))
        elif flow is not None:
            call.targets.append((flow, route_for(target, caller_route, kind), each))
    return call
