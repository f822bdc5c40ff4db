"""A per-tick snapshot of what runs and how services route to it, from objects and the Runtime.

Traffic follows Services exactly as kube-proxy would: a caller's env URL names a Service (and a
port); the Service's selector picks ready pods; its ``targetPort`` must be a port the pod's image
listens on. Nothing here knows about faults: a broken selector simply selects nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from sandbox.images import ImageProfile
from sandbox.kube.store import Store
from sandbox.sim.runtime import ContainerRuntime, Runtime

Failure = Literal["no_such_host", "no_port", "no_endpoints"]
DEFAULT_PORTS = {"http": 80, "https": 443, "postgres": 5432, "postgresql": 5432, "redis": 6379, "amqp": 5672}


@dataclass
class PodView:
    """One pod as traffic sees it: the main container's runtime state plus the pod's labels."""

    namespace: str
    name: str
    app: str
    node: str
    labels: dict[str, str]
    main: ContainerRuntime
    running: bool
    ready: bool
    listening: set[int]
    named_ports: dict[str, int]
    containers: list[ContainerRuntime] = field(default_factory=list)

    @property
    def profile(self) -> ImageProfile | None:
        return self.main.profile

    @property
    def env(self) -> dict[str, str]:
        return self.main.env


@dataclass(frozen=True)
class ServicePort:
    port: int
    target: int | str


@dataclass
class ServiceView:
    namespace: str
    name: str
    selector: dict[str, str]
    ports: list[ServicePort]


@dataclass
class Resolution:
    """Where a caller's URL leads: the ready pods that accept, and how many ready ones refuse."""

    address: str
    service: str | None
    good: list[PodView]
    refusing: int
    failure: Failure | None

    @property
    def refused_share(self) -> float:
        total = len(self.good) + self.refusing
        return self.refusing / total if total else 0.0


@dataclass
class World:
    """Pods (by namespace) and services of one tick."""

    pods: dict[str, list[PodView]]
    services: dict[tuple[str, str], ServiceView]

    def apps(self, namespace: str) -> dict[str, list[PodView]]:
        """Running pods of a namespace grouped by ``app``."""
        grouped: dict[str, list[PodView]] = {}
        for pod in self.pods.get(namespace, []):
            grouped.setdefault(pod.app, []).append(pod)
        return grouped

    def resolve(self, namespace: str, url: str) -> Resolution:
        """Follow ``url`` from a pod in ``namespace`` through its Service to ready endpoints."""
        host, port = parse_url(url)
        address = f"{host}:{port}"
        direct = [p for p in self.pods.get(namespace, []) if p.main.pod_ip and p.main.pod_ip == host]
        if direct:
            pod = direct[0]
            ok = pod.ready and port in pod.listening
            return Resolution(address, None, [pod] if ok else [], 0 if ok else 1, None)
        parts = host.split(".")
        svc_ns = parts[1] if len(parts) > 1 and parts[1] != "svc" else namespace
        svc = self.services.get((svc_ns, parts[0]))
        if svc is None:
            return Resolution(address, None, [], 0, "no_such_host")
        sport = next((p for p in svc.ports if p.port == port), None)
        if sport is None:
            return Resolution(address, svc.name, [], 0, "no_port")
        good: list[PodView] = []
        refusing = 0
        for pod in self.pods.get(svc_ns, []):
            if not pod.ready or not svc.selector or not _selects(svc.selector, pod.labels):
                continue
            target = sport.target if isinstance(sport.target, int) else pod.named_ports.get(sport.target)
            if target is not None and target in pod.listening:
                good.append(pod)
            else:
                refusing += 1
        failure: Failure | None = None if good or refusing else "no_endpoints"
        return Resolution(address, svc.name, good, refusing, failure)


def parse_url(url: str) -> tuple[str, int]:
    """``(host, port)`` of a dependency URL such as ``http://predictor:8000`` or ``cache:6379``."""
    text = url.strip()
    try:
        parsed = urlsplit(text if "://" in text else f"tcp://{text}")
        host = parsed.hostname or ""
    except ValueError:  # a malformed URL resolves nowhere: the caller sees "no such host"
        return text, 0
    try:
        port = parsed.port
    except ValueError:
        port = None
    return host, port or DEFAULT_PORTS.get(parsed.scheme, 80)


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def snapshot(store: Store, runtime: Runtime) -> World:
    """Build the tick's :class:`World` from the store's pods/services and the runtime registry."""
    by_pod: dict[tuple[str, str], list[ContainerRuntime]] = {}
    for c in runtime.containers():
        by_pod.setdefault((c.namespace, c.pod), []).append(c)
    pods: dict[str, list[PodView]] = {}
    for obj in store.list("pods"):
        view = _pod_view(obj, by_pod.get((obj["metadata"].get("namespace", ""), obj["metadata"]["name"])))
        if view is not None:
            pods.setdefault(view.namespace, []).append(view)
    services = {}
    for obj in store.list("services"):
        view_s = _service_view(obj)
        services[(view_s.namespace, view_s.name)] = view_s
    return World(pods, services)


def _pod_view(obj: dict[str, Any], containers: list[ContainerRuntime] | None) -> PodView | None:
    if not containers:
        return None
    meta = obj["metadata"]
    spec = obj.get("spec", {})
    order = [c.get("name") for c in spec.get("containers", [])]
    containers = sorted(containers, key=lambda c: order.index(c.container) if c.container in order else 99)
    main = next((c for c in containers if c.profile is not None), containers[0])
    running = main.running and not meta.get("deletionTimestamp")
    conditions = {c.get("type"): c.get("status") for c in obj.get("status", {}).get("conditions", [])}
    ready = (
        running
        and all(c.ready for c in containers if c.running)
        and conditions.get("Ready", "True") == "True"
    )
    named = {
        p["name"]: int(p["containerPort"])
        for c in spec.get("containers", [])
        for p in c.get("ports", []) or []
        if p.get("name") and p.get("containerPort")
    }
    labels = dict(meta.get("labels") or {})
    return PodView(
        namespace=meta.get("namespace", ""),
        name=meta["name"],
        app=labels.get("app") or main.app,
        node=main.node or spec.get("nodeName", ""),
        labels=labels,
        main=main,
        running=running,
        ready=ready,
        listening={c.listening_port for c in containers if c.running and c.listening_port},
        named_ports=named,
        containers=containers,
    )


def _service_view(obj: dict[str, Any]) -> ServiceView:
    spec = obj.get("spec", {})
    ports = []
    for p in spec.get("ports", []) or []:
        port = int(p.get("port", 0))
        target = p.get("targetPort", port)
        if isinstance(target, str) and target.isdigit():
            target = int(target)
        ports.append(ServicePort(port, target))
    return ServiceView(
        namespace=obj["metadata"].get("namespace", ""),
        name=obj["metadata"]["name"],
        selector=dict(spec.get("selector") or {}),
        ports=ports,
    )
