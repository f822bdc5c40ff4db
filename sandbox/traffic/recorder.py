"""Turns one tick's flows into metrics, pod usage and log events (pass 2 and bookkeeping)."""

from __future__ import annotations

from sandbox.applog import PodRef, RequestLog
from sandbox.images import memory_mib
from sandbox.sim.runtime import Runtime
from sandbox.traffic import model
from sandbox.traffic.backends import PoolPlan
from sandbox.traffic.flow import FAILURES, Call, PodFlow, Result, RouteOutcome
from sandbox.traffic.state import ContainerUsage, DbState, MetricState
from sandbox.traffic.world import PodView, World

MIB = 1024.0 * 1024.0
CFS_PERIODS_PER_S = 10.0  # 100 ms CFS period
SIDECAR_CPU_M = 2.0
MIN_COUNT = 1e-3  # below this a tick adds nothing (no all-zero series from rounding dust)
PROXY_CODES: dict[Result, str] = {"error": "502", "refused": "503", "timeout": "504", "auth_failed": "502"}
SERVER_LOG_KIND = {("db", "too_many_connections"): "db_too_many", ("db", "auth_failed"): "db_auth"}


def response_code(call: Call, result: Result) -> str:
    """HTTP status a pod answers with when an upstream call fails: a proxy's 502/503/504 for HTTP
    upstreams, an application's 500 when its database, cache or queue fails."""
    return PROXY_CODES[result] if call.kind == "http" else "500"


def pod_ref(pod: PodView) -> PodRef:
    return PodRef(
        pod.namespace, pod.name, pod.main.container, pod.app, pod.node, pod.main.restart_count, pod.profile
    )


class Recorder:
    """Writes the outcome of a tick into :class:`MetricState`, the Runtime and the request log."""

    def __init__(self, metrics: MetricState, log: RequestLog) -> None:
        self.metrics = metrics
        self.log = log

    # --- pass 2 ---------------------------------------------------------------------------
    def settle(self, flow: PodFlow) -> None:
        """Compute each route's outcome on a pod from its CPU and its upstreams' outcomes."""
        own = flow.pod.profile.error_ratio if flow.pod.profile else 0.0
        for route in flow.incoming:
            latency = flow.own_latency_s()
            remaining = 1.0
            fails: list[tuple[Call, Result, float]] = []
            for call, gate in zip(flow.calls.get(route, []), flow.gates.get(route, []), strict=True):
                results = call.results()
                latency += gate * call.latency_s()
                if not call.required:
                    continue
                lost = 0.0
                for result in FAILURES:
                    share = remaining * gate * results[result]
                    if share > 0:
                        fails.append((call, result, share))
                        lost += share
                remaining -= lost
            flow.failures[route] = fails
            flow.outcome[route] = RouteOutcome(
                shed=1.0 - flow.served, error=own + (1.0 - own) * (1.0 - remaining), mean_s=latency
            )

    # --- metrics and logs -----------------------------------------------------------------
    def record(self, ns: str, flow: PodFlow, dt: float, now: float) -> None:
        """Add one pod's requests, upstream calls and log events for this tick."""
        pod = flow.pod
        profile = pod.profile
        own = profile.error_ratio if profile else 0.0
        ref = pod_ref(pod)
        http = profile is not None and profile.protocol == "http"
        for route, rps in flow.incoming.items():
            n = rps * dt
            answered = n * flow.served
            out = flow.outcome.get(route, RouteOutcome())
            fails = flow.failures.get(route, [])
            codes = {
                "200": answered * (1.0 - own) * (1.0 - sum(s for _, _, s in fails)),
                "500": answered * own,
            }
            codes["504"] = n - answered
            for call, result, share in fails:
                code = response_code(call, result)
                codes[code] = codes.get(code, 0.0) + answered * (1.0 - own) * share
            if http and route not in ("consume", "publish"):
                self._http(ns, pod.app, route, codes, answered, n - answered, out.mean_s)
            self._logs(ref, route, codes, fails, answered, out.mean_s, flow.clients.get(route, ""))
            for call in flow.calls.get(route, []):
                self._upstream(ns, pod.app, ref, route, call, dt)

    def _http(
        self,
        ns: str,
        app: str,
        route: str,
        codes: dict[str, float],
        answered: float,
        shed: float,
        mean_s: float,
    ) -> None:
        with self.metrics.lock:
            for code, count in codes.items():
                if count > MIN_COUNT:
                    self.metrics.http[(ns, app, route, code)] += count
            hist = self.metrics.latency[(ns, app, route)]
            hist.observe_spread(answered, mean_s)
            hist.observe_at(shed, model.SHED_S)

    def _logs(
        self,
        ref: PodRef,
        route: str,
        codes: dict[str, float],
        fails: list[tuple[Call, Result, float]],
        answered: float,
        mean_s: float,
        client: str,
    ) -> None:
        latency_ms = round(mean_s * 1000.0, 1)
        if ref.profile is not None and ref.profile.protocol == "http":
            self.log.event(
                ref, "access", codes["200"], route=route, code=200, latency_ms=latency_ms, client=client
            )
        self.log.event(
            ref,
            "server_error",
            codes["500"] - sum(answered * s for c, _, s in fails if c.kind != "http"),
            route=route,
            code=500,
        )
        self.log.event(
            ref, "overloaded", codes["504"], route=route, code=504, detail="cpu limit reached", client=client
        )
        for call, result, share in fails:
            kind = call.detail.get(result, result) if result == "error" else result
            self.log.event(
                ref,
                kind,
                answered * share,
                route=route,
                upstream=call.address,
                detail=f"{call.upstream} error",
            )

    def _upstream(self, ns: str, app: str, ref: PodRef, route: str, call: Call, dt: float) -> None:
        n = call.rps * dt
        if n <= 0:
            return
        results = call.results()
        with self.metrics.lock:
            for result, share in results.items():
                if n * share > MIN_COUNT:
                    self.metrics.upstream[(ns, app, call.upstream, result)] += n * share
            if call.kind == "cache":
                ok = results["ok"]
                self.metrics.cache[(ns, app, "hit")] += n * call.hit
                self.metrics.cache[(ns, app, "miss")] += n * max(0.0, ok - call.hit)
                self.metrics.cache[(ns, app, "error")] += n * (1.0 - ok)
        if call.kind == "cache":
            failed = 1.0 - results["ok"]
            worst = max(FAILURES, key=lambda r: results[r])
            self.log.event(
                ref,
                "cache_fallback",
                n * failed,
                route=route,
                upstream=call.address,
                detail=worst,
                fallback="origin",
            )
        for target, kind, share in call.rejected:
            server_kind = SERVER_LOG_KIND.get((call.kind, kind), "cache_auth" if call.kind == "cache" else "")
            if server_kind:
                self.log.event(pod_ref(target), server_kind, n * share)

    def ingress_failure(self, ns: str, service: str, route: str, rps: float, dt: float) -> None:
        """Requests the edge load balancer could not deliver to any ready pod: 503 at the edge."""
        n = rps * dt
        if n <= 0:
            return
        with self.metrics.lock:
            self.metrics.http[(ns, service, route, "503")] += n
            self.metrics.latency[(ns, service, route)].observe_at(n, model.REFUSED_S)

    def stalled(self, pod: PodView, dt: float) -> None:
        """A consumer whose image stopped consuming logs a missed heartbeat now and then."""
        self.log.event(pod_ref(pod), "stalled", 0.1 * dt)

    def pools(self, ns: str, plans: dict[str, PoolPlan]) -> None:
        """Database connection gauges: in use = min(pools wanted, max_connections)."""
        with self.metrics.lock:
            for app, plan in plans.items():
                self.metrics.db[(ns, app)] = DbState(
                    in_use=float(min(plan.demand, plan.max)), max=float(plan.max)
                )

    # --- usage ----------------------------------------------------------------------------
    def usage(self, runtime: Runtime, world: World, flows: list[PodFlow], now: float, dt: float) -> None:
        """Write each pod's rps/CPU to the Runtime and advance the cAdvisor counters."""
        by_pod = {(f.pod.namespace, f.pod.name): f for f in flows}
        seen: set[tuple[str, str, str]] = set()
        for ns, pods in world.pods.items():
            for pod in pods:
                flow = by_pod.get((ns, pod.name))
                runtime.set_usage(
                    ns, pod.name, rps=flow.rps if flow else 0.0, cpu_millicores=flow.used_m if flow else 0.0
                )
                for c in pod.containers:
                    if not c.running:
                        continue
                    key = (ns, pod.name, c.container)
                    seen.add(key)
                    main = c.container == pod.main.container
                    demand = flow.demand_m if flow and main else SIDECAR_CPU_M
                    used = flow.used_m if flow and main else SIDECAR_CPU_M
                    rps = flow.rps if flow and main else 0.0
                    mem = memory_mib(c.profile, c.uptime(now), rps) if c.profile else 16.0
                    with self.metrics.lock:
                        u = self.metrics.containers.setdefault(key, ContainerUsage())
                        u.cpu_seconds += used / 1000.0 * dt
                        if c.cpu_limit_millicores:
                            u.cfs_periods += CFS_PERIODS_PER_S * dt
                            u.cfs_throttled += (
                                CFS_PERIODS_PER_S * dt * model.throttled_share(demand, c.cpu_limit_millicores)
                            )
                        u.memory_bytes = mem * MIB
                        u.memory_limit_bytes = c.memory_limit_mib * MIB if c.memory_limit_mib else None
                        u.cpu_limit_cores = (
                            c.cpu_limit_millicores / 1000.0 if c.cpu_limit_millicores else None
                        )
        with self.metrics.lock:
            for key in [k for k in self.metrics.containers if k not in seen]:
                del self.metrics.containers[key]
