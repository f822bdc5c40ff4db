"""The traffic engine: every tick, load enters at the edge and flows through Services to pods.

Per namespace and tick: external clients hit the ``api-gateway`` Service (a daily sine plus
noise, times any surge), a market-data feed publishes to the ``queue`` Service, and every pod
forwards what it serves to the upstreams its image calls (env URLs → Services → ready pods that
listen on the ``targetPort``). CPU per pod follows from its load (``cpu_per_rps``) and caps at its
limit; the excess times out. Results flow back to callers, then metrics, usage and log lines are
written. Work is O(pods) per tick: aggregates, never one simulated request at a time.

Load levels are sized against the image catalog (``cpu_per_rps``) and the platform's requests,
limits and HPAs: at baseline the predictor HPA rests below its maximum (3-4 pods at ~70% of the
CPU request), while a 4x surge on api-gateway or predictor needs more than the HPA maximum of 5
predictor pods can give, so CPU saturates at the limit and the excess times out. That is why the
production edge sees ~210-240 requests/s with a gentle (±6%) daily swing.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from sandbox.applog import RequestLog
from sandbox.images import CURRENT, IMAGES
from sandbox.kube.store import Store
from sandbox.sim.runtime import LogSink, Runtime
from sandbox.traffic import backends, model
from sandbox.traffic.control import TrafficControl
from sandbox.traffic.flow import Call, PodFlow, spread, upstream_kind
from sandbox.traffic.recorder import Recorder
from sandbox.traffic.state import MetricState, QueueState
from sandbox.traffic.world import PodView, World, snapshot

log = logging.getLogger(__name__)

EDGE_SERVICE = "api-gateway"
FEED_SERVICE = "queue"
BASE_RPS = {"market-predictor": 225.0, "market-predictor-staging": 4.0}
BASE_FEED = {"market-predictor": 30.0, "market-predictor-staging": 1.5}
OTHER_RPS = 2.0
OTHER_FEED = 0.5
DAILY_AMPLITUDE = 0.06
ROUTE_WEIGHTS = {"predict": 0.8, "health": 0.05}
# Predictions are computed per request; other read routes (quotes) are answered from the cache first.
UNCACHED_ROUTES = ("predict",)


class Traffic:
    """Drives load through the simulated cluster. ``tick(dt)`` is synchronous; ``start()`` runs it
    every second in a daemon thread. ``metrics`` is the state the metrics targets expose."""

    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        logs: LogSink | None,
        control: TrafficControl,
        clock: Callable[[], float] = time.time,
        *,
        seed: int | None = None,
        base_rps: dict[str, float] | None = None,
    ) -> None:
        self.store = store
        self.runtime = runtime
        self.control = control
        self.metrics = MetricState()
        self._clock = clock
        self._rng = random.Random(seed)
        self._log = RequestLog(logs, self._rng)
        self._noise: dict[str, model.SmoothNoise] = {}
        self.base_rps = dict(BASE_RPS if base_rps is None else base_rps)
        self.recorder = Recorder(self.metrics, self._log)
        self.launched: set[str] = set()  # namespaces clients have found
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self, interval_s: float = 1.0) -> None:
        """Tick every ``interval_s`` seconds in a background thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), name="traffic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread (waits for the current tick to finish)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self, interval_s: float) -> None:
        last = self._clock()
        while not self._stop.wait(interval_s):
            now = self._clock()
            try:
                self.tick(min(max(now - last, 0.05), 5.0))
            except Exception:  # one bad object must not stop all traffic: log it, try next second
                log.exception("traffic tick failed; retrying next tick")
            last = now

    # --- one step -----------------------------------------------------------------------------
    def tick(self, dt: float = 1.0) -> None:
        """Advance the traffic by ``dt`` seconds: route load, update metrics, usage and logs."""
        now = self._clock()
        world = snapshot(self.store, self.runtime)
        namespaces = sorted(set(world.pods) | {ns for ns, _ in world.services})
        all_flows: list[PodFlow] = []
        for ns in namespaces:
            all_flows.extend(_Tick(self, world, ns, now, dt).run())
        self.recorder.usage(self.runtime, world, all_flows, now, dt)
        self._log.flush(now, dt)

    def load_factor(self, namespace: str, now: float) -> float:
        """Today's shape times wandering noise: scales every external load of ``namespace`` now.

        Call once per namespace and tick (it advances the noise)."""
        noise = self._noise.setdefault(namespace, model.SmoothNoise())
        return model.daily_shape(now, DAILY_AMPLITUDE) * noise.step(self._rng.gauss(0.0, 1.0))


class _Tick:
    """One namespace's tick: edge and feed in, pass 1 down the call graph, pass 2 back up."""

    def __init__(self, traffic: Traffic, world: World, ns: str, now: float, dt: float) -> None:
        self.t, self.world, self.ns, self.now, self.dt = traffic, world, ns, now, dt
        self.apps = world.apps(ns)
        self.flows = {p.name: PodFlow(p) for pods in self.apps.values() for p in pods if p.running}
        self.pools = backends.plan_pools(world, ns, traffic.metrics.db)
        self.published: dict[str, float] = {}
        self.consumed: dict[str, float] = {}

    def run(self) -> list[PodFlow]:
        factor = self.t.load_factor(self.ns, self.now)
        if self._launched():
            self._edge(self.t.base_rps.get(self.ns, OTHER_RPS) * factor)
            self._feed(BASE_FEED.get(self.ns, OTHER_FEED) * factor)
        order = self._order()
        for app in order:
            self._pass1(app)
        for app in reversed(order):
            for flow in self._app_flows(app):
                self.t.recorder.settle(flow)
        rec = self.t.recorder
        for flow in self.flows.values():
            rec.record(self.ns, flow, self.dt, self.now)
        rec.pools(self.ns, self.pools)
        self._advance_queues()
        return list(self.flows.values())

    def _app_flows(self, app: str) -> list[PodFlow]:
        return [self.flows[p.name] for p in self.apps.get(app, []) if p.name in self.flows]

    # --- inputs -------------------------------------------------------------------------------
    def _launched(self) -> bool:
        """Clients find a namespace once every Service in it has served at least once (a cold start
        is not an outage); from then on they keep coming whatever breaks."""
        if self.ns in self.t.launched:
            return True
        services = [s for (ns, _), s in self.world.services.items() if ns == self.ns and s.ports]
        if services and all(
            self.world.resolve(self.ns, f"tcp://{s.name}:{s.ports[0].port}").good for s in services
        ):
            self.t.launched.add(self.ns)
            return True
        return False

    def _edge(self, rps: float) -> None:
        """External clients send ``rps`` (times any surge) to the edge Service, split by route."""
        svc = self.world.services.get((self.ns, EDGE_SERVICE))
        if svc is None or not svc.ports:
            return
        res = self.world.resolve(self.ns, f"http://{EDGE_SERVICE}:{svc.ports[0].port}")
        for route, weight in _edge_routes():
            x = rps * weight * self.t.control.multiplier(self.ns, EDGE_SERVICE, route)
            clients = ", ".join(self.t.control.clients(self.ns, EDGE_SERVICE, route))
            reached = 1.0 - (1.0 if res.failure else res.refused_share)
            self.t.recorder.ingress_failure(self.ns, EDGE_SERVICE, route, x * (1.0 - reached), self.dt)
            for pod in res.good:
                flow = self.flows.get(pod.name)
                if flow is not None:
                    flow.incoming[route] = flow.incoming.get(route, 0.0) + x * reached / len(res.good)
                    if clients:
                        flow.clients[route] = clients

    def _feed(self, rate: float) -> None:
        """The market-data feed publishes ``rate`` messages/s to the queue Service, if it can."""
        svc = self.world.services.get((self.ns, FEED_SERVICE))
        if svc is None or not svc.ports:
            return
        self._queue_state(FEED_SERVICE, None)  # the backlog exists even before any consumer ran
        res = self.world.resolve(self.ns, f"amqp://{FEED_SERVICE}:{svc.ports[0].port}")
        if not res.good:
            self.published[FEED_SERVICE] = 0.0
            return
        self.published[FEED_SERVICE] = rate * (1.0 - res.refused_share)
        for pod in res.good:
            flow = self.flows.get(pod.name)
            if flow is not None:
                share = self.published[FEED_SERVICE] / len(res.good)
                flow.incoming["publish"] = flow.incoming.get("publish", 0.0) + share

    # --- the call graph -----------------------------------------------------------------------
    def _order(self) -> list[str]:
        """Apps in call order (callers first), Kahn's algorithm; cycles fall back to name order."""
        edges: dict[str, set[str]] = {app: set() for app in self.apps}
        for app, pods in self.apps.items():
            for pod in pods:
                for url in _upstream_urls(pod):
                    edges[app] |= {t.app for t in self.world.resolve(self.ns, url).good if t.app != app}
        indeg = {app: 0 for app in edges}
        for targets in edges.values():
            for target in targets:
                if target in indeg:
                    indeg[target] += 1
        ready = sorted(a for a, d in indeg.items() if d == 0)
        order: list[str] = []
        while ready:
            app = ready.pop(0)
            order.append(app)
            for target in sorted(edges[app]):
                if target in indeg:
                    indeg[target] -= 1
                    if indeg[target] == 0:
                        ready.append(target)
        return order + sorted(a for a in edges if a not in order)

    def _pass1(self, app: str) -> None:
        flows = self._app_flows(app)
        if any(f.pod.profile and f.pod.profile.consumes_per_s > 0 for f in flows):
            self._allocate_consumption(flows)
        for flow in flows:
            if app != EDGE_SERVICE:
                for route in list(flow.incoming):
                    flow.incoming[route] *= self.t.control.multiplier(self.ns, app, route)
                    if clients := ", ".join(self.t.control.clients(self.ns, app, route)):
                        flow.clients[route] = clients
            flow.settle_cpu()
            for route, rps in flow.incoming.items():
                self._plan(flow, route, rps * flow.served)

    def _plan(self, flow: PodFlow, route: str, served_rps: float) -> None:
        calls: list[Call] = []
        for key, url in _route_upstreams(flow.pod, route):
            if upstream_kind(key) == "cache" and any(word in route for word in UNCACHED_ROUTES):
                continue
            call = spread(self.world.resolve(self.ns, url), flow.pod, key, route, self.flows)
            if call.kind == "db":
                self._apply_pool(call)
            calls.append(call)
        calls.sort(key=lambda c: c.kind != "cache")
        gate, gates = 1.0, []
        for call in calls:
            gates.append(gate)
            call.rps = served_rps * gate
            for target, troute, share in call.targets:
                target.incoming[troute] = target.incoming.get(troute, 0.0) + call.rps * share
            if call.kind == "cache":
                call.hit = sum(
                    share * backends.cache_hit_ratio(t.pod, self.now) for t, _, share in call.targets
                )
                gate *= 1.0 - call.hit
        flow.calls[route], flow.gates[route] = calls, gates

    def _apply_pool(self, call: Call) -> None:
        kept = []
        for target, troute, share in call.targets:
            plan = self.pools.get(target.pod.app)
            reject = plan.reject_share if plan else 0.0
            if reject > 0:
                call.static["error"] = call.static.get("error", 0.0) + share * reject
                call.detail["error"] = "too_many_connections"
                call.rejected.append((target.pod, "too_many_connections", share * reject))
            kept.append((target, troute, share * (1.0 - reject)))
        call.targets = kept

    # --- the queue ----------------------------------------------------------------------------
    def _allocate_consumption(self, flows: list[PodFlow]) -> None:
        by_queue: dict[str, list[tuple[PodFlow, float]]] = {}
        for flow in flows:
            url = _env_url(flow.pod, "queue")
            if url is None:
                continue
            res = self.world.resolve(self.ns, url)
            queue = res.service or FEED_SERVICE
            reach = 0.0 if not res.good else 1.0 - res.refused_share
            capacity = backends.consumer_capacity(flow.pod, self.now) * reach
            by_queue.setdefault(queue, []).append((flow, capacity))
            if backends.is_stalled(flow.pod, self.now):
                self.t.recorder.stalled(flow.pod, self.dt)
            self._queue_state(queue, flow.pod)
        for queue, items in by_queue.items():
            state = self._queue_state(queue, None)
            total = sum(c for _, c in items)
            available = state.depth / self.dt + self.published.get(queue, 0.0)
            consumed = min(total, available)
            self.consumed[queue] = self.consumed.get(queue, 0.0) + consumed
            for flow, capacity in items:
                if total > 0 and capacity > 0:
                    flow.incoming["consume"] = consumed * capacity / total

    def _queue_state(self, queue: str, consumer: PodView | None) -> QueueState:
        with self.t.metrics.lock:
            state = self.t.metrics.queues.setdefault((self.ns, queue), QueueState(name="ingest"))
            if consumer is not None and consumer.env.get("QUEUE_NAME"):
                state.name = consumer.env["QUEUE_NAME"]
            return state

    def _advance_queues(self) -> None:
        with self.t.metrics.lock:
            for (ns, queue), state in self.t.metrics.queues.items():
                if ns == self.ns:
                    published = self.published.get(queue, 0.0)
                    backends.advance_queue(state, published, self.consumed.get(queue, 0.0), self.dt)


def _edge_routes() -> list[tuple[str, float]]:
    routes = IMAGES[CURRENT[EDGE_SERVICE]].routes
    fixed = {r: w for r in routes for key, w in ROUTE_WEIGHTS.items() if key in r}
    rest = [r for r in routes if r not in fixed]
    remaining = max(0.0, 1.0 - sum(fixed.values()))
    return [(r, fixed.get(r, remaining / len(rest) if rest else 0.0)) for r in routes]


def _upstream_urls(pod: PodView) -> list[str]:
    profile = pod.profile
    if profile is None:
        return []
    return [pod.env[env] for env in profile.upstreams.values() if pod.env.get(env)]


def _env_url(pod: PodView, kind: str) -> str | None:
    profile = pod.profile
    if profile is None:
        return None
    for key, env in profile.upstreams.items():
        if upstream_kind(key) == kind and pod.env.get(env):
            return pod.env[env]
    return None


def _route_upstreams(pod: PodView, route: str) -> list[tuple[str, str]]:
    """The upstream calls serving ``route`` makes: (logical upstream, URL from the pod's env)."""
    profile = pod.profile
    if profile is None or "health" in route or route == "publish":
        return []
    consumer = profile.consumes_per_s > 0
    calls = []
    for key, env in profile.upstreams.items():
        url = pod.env.get(env)
        if not url:
            continue
        if upstream_kind(key) == "queue" and not (consumer and route == "consume") and "ingest" not in route:
            continue
        if consumer and route != "consume":
            continue
        calls.append((key, url))
    return calls
