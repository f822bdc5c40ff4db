"""The kubelet of every simulated node: pulls, starts, probes, restarts and kills containers.

Per container it walks the real state machine: pull (``ErrImagePull`` → ``ImagePullBackOff`` for
images not in the catalog), create (``CreateContainerConfigError`` when a configmap/secret or key is
missing), start (an unknown command fails with exit 127; the image may crash on start or on a bad
env value), run (OOMKilled with exit 137 when memory exceeds the limit; liveness failures restart
it), and back-off between restarts (``CrashLoopBackOff``). Readiness follows the readiness probe,
which must hit the port and path the image serves.

Sandbox timing: the restart back-off starts at ``BACKOFF_BASE_S`` (5 s, real: 10 s) and doubles up
to ``BACKOFF_CAP_S`` (40 s, real: 300 s); it resets after ``BACKOFF_RESET_S`` of healthy running.
Pods on a node whose Ready condition is not True are left alone: that kubelet is gone.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from sandbox.images import get_profile, memory_mib, not_found_message
from sandbox.kube.store import Conflict, NotFound
from sandbox.sim.container_logs import ContainerLogger
from sandbox.sim.containers import ConfigError, command_problem, resolve_env, start_crash
from sandbox.sim.events import EventRecorder
from sandbox.sim.kubelet_status import BACKOFF_BASE_S, Instance, PodRecord, pod_status
from sandbox.sim.objects import Clock, Obj, condition_true, container_resources, is_terminating, iso
from sandbox.sim.probes import run_probes
from sandbox.sim.runtime import ContainerRuntime, Runtime
from sandbox.sim.view import StoreView

COMPONENT = "kubelet"
BACKOFF_CAP_S = 40.0
BACKOFF_RESET_S = 120.0
CONFIG_RETRY_S = 2.0


class Kubelet:
    """Runs the pods bound to every Ready node, one pass per :meth:`sync`."""

    def __init__(
        self, store: StoreView, runtime: Runtime, events: EventRecorder, logger: ContainerLogger, clock: Clock
    ) -> None:
        self._store = store
        self._runtime = runtime
        self._events = events
        self._logger = logger
        self._clock = clock
        self._pods: dict[tuple[str, str], PodRecord] = {}
        self._pulled: set[tuple[str, str]] = set()  # (node, image)
        self._ips: dict[str, int] = {}

    def sync(self) -> None:
        nodes = {n["metadata"]["name"]: n for n in self._store.list("nodes")}
        pods = self._store.list("pods")
        seen = set()
        for pod in pods:
            node_name = pod["spec"].get("nodeName")
            if not node_name:
                continue
            key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
            seen.add(key)
            node = nodes.get(node_name)
            if node is None or not condition_true(node, "Ready"):
                self._runtime_unreachable(key)
                continue
            try:
                self._sync_pod(pod, node)
            except (NotFound, Conflict):
                continue
        for key in [k for k in self._pods if k not in seen]:
            self._forget(key)
        for key in [k for k in self._runtime.pods() if k not in seen]:
            self._runtime.remove_pod(*key)

    # --- pods -----------------------------------------------------------------------------------
    def _record(self, pod: Obj, node: Obj) -> PodRecord:
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        record = self._pods.get(key)
        if record is None or record.uid != pod["metadata"]["uid"]:
            record = PodRecord(pod["metadata"]["uid"], self._allocate_ip(node), iso(self._clock()))
            self._pods[key] = record
        return record

    def _allocate_ip(self, node: Obj) -> str:
        name = node["metadata"]["name"]
        index = sorted(n["metadata"]["name"] for n in self._store.list("nodes")).index(name) + 1
        in_use = {record.pod_ip for record in self._pods.values()}
        for _ in range(254):
            self._ips[name] = self._ips.get(name, 1) % 253 + 2  # .2 .. .254, wrapping around
            ip = f"10.244.{index}.{self._ips[name]}"
            if ip not in in_use:
                return ip
        raise RuntimeError(f"node {name} has no free pod IP left in 10.244.{index}.0/24 (254 pods running)")

    def _sync_pod(self, pod: Obj, node: Obj) -> None:
        record = self._record(pod, node)
        if is_terminating(pod):
            self._terminate_pod(pod, record)
            return
        now = self._clock()
        for spec in pod["spec"].get("containers", []):
            inst = record.containers.get(spec["name"])
            if inst is None:
                inst = record.containers[spec["name"]] = Instance(spec["name"], spec.get("image", ""))
                self._pull_started(pod, inst, node, now)
            self._step(pod, spec, inst, record, node, now)
            self._publish(pod, spec, inst, record, node, now)
        status = pod_status(pod, record, node, iso(now))
        if status != pod.get("status"):
            meta = pod["metadata"]
            self._store.mutate(
                "pods", meta["namespace"], meta["name"], lambda o: o.__setitem__("status", status)
            )

    def _terminate_pod(self, pod: Obj, record: PodRecord) -> None:
        for spec in pod["spec"].get("containers", []):
            inst = record.containers.get(spec["name"])
            if inst is not None and inst.phase == "running":
                self._event(pod, "Normal", "Killing", f"Stopping container {inst.name}", spec["name"])
                self._logger.shutdown(pod, inst)
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        self._forget(key)
        self._runtime.remove_pod(*key)
        self._store.delete("pods", *key)

    def _forget(self, key: tuple[str, str]) -> None:
        self._pods.pop(key, None)

    def _runtime_unreachable(self, key: tuple[str, str]) -> None:
        """A NotReady node's pods cannot be reached: not ready in the runtime either."""
        for state in self._runtime.containers(*key):
            if state.ready:
                state.ready = False
                self._runtime.put(state)

    # --- one container --------------------------------------------------------------------------
    def _step(self, pod: Obj, spec: Obj, inst: Instance, record: PodRecord, node: Obj, now: float) -> None:
        if spec.get("image", "") != inst.image:
            if inst.phase == "running":
                self._event(
                    pod,
                    "Normal",
                    "Killing",
                    f"Container {inst.name} definition changed, will be restarted",
                    inst.name,
                )
                self._terminated(pod, inst, now, 0, "Completed", "", backoff=False)
            inst.image, inst.phase, inst.next_at = spec.get("image", ""), "pull", now
            inst.pull_backoff_s = BACKOFF_BASE_S
            self._pull_started(pod, inst, node, now)
        if inst.phase in ("pull", "pull_backoff"):
            self._pull(pod, inst, node, now)
        if inst.phase == "backoff" and now >= inst.next_at:
            inst.phase = "create"
            message = f'Container image "{inst.image}" already present on machine'
            self._event(pod, "Normal", "Pulled", message, inst.name)
        if inst.phase == "create" and now >= inst.next_at:
            self._create(pod, spec, inst, record, node, now)
        if inst.phase == "running":
            self._run(pod, spec, inst, record, now)

    def _pull_started(self, pod: Obj, inst: Instance, node: Obj, now: float) -> None:
        if (node["metadata"]["name"], inst.image) not in self._pulled:
            self._event(pod, "Normal", "Pulling", f'Pulling image "{inst.image}"', inst.name)

    def _pull(self, pod: Obj, inst: Instance, node: Obj, now: float) -> None:
        if now < inst.next_at:
            if inst.phase == "pull_backoff" and inst.waiting and inst.waiting[0] == "ErrImagePull":
                inst.waiting = ("ImagePullBackOff", f'Back-off pulling image "{inst.image}"')
                self._event(pod, "Normal", "BackOff", f'Back-off pulling image "{inst.image}"', inst.name)
                self._event(pod, "Warning", "Failed", "Error: ImagePullBackOff", inst.name)
            return
        node_name = node["metadata"]["name"]
        profile = get_profile(inst.image)
        if profile is None:
            if inst.phase == "pull_backoff":
                self._event(pod, "Normal", "Pulling", f'Pulling image "{inst.image}"', inst.name)
            message = not_found_message(inst.image)
            inst.waiting = ("ErrImagePull", message)
            self._event(
                pod, "Warning", "Failed", f'Failed to pull image "{inst.image}": {message}', inst.name
            )
            self._event(pod, "Warning", "Failed", "Error: ErrImagePull", inst.name)
            inst.phase, inst.next_at = "pull_backoff", now + inst.pull_backoff_s
            inst.pull_backoff_s = min(inst.pull_backoff_s * 2, BACKOFF_CAP_S)
            return
        if (node_name, inst.image) in self._pulled:
            self._event(
                pod,
                "Normal",
                "Pulled",
                f'Container image "{inst.image}" already present on machine',
                inst.name,
            )
        else:
            self._pulled.add((node_name, inst.image))
            self._event(
                pod,
                "Normal",
                "Pulled",
                f'Successfully pulled image "{inst.image}" in 1.2s (1.2s including waiting)',
                inst.name,
            )
        inst.profile, inst.phase, inst.next_at = profile, "create", now
        inst.pull_backoff_s = BACKOFF_BASE_S

    def _create(self, pod: Obj, spec: Obj, inst: Instance, record: PodRecord, node: Obj, now: float) -> None:
        assert inst.profile is not None
        try:
            env = resolve_env(
                self._store, {**pod, "status": {**pod.get("status", {}), "podIP": record.pod_ip}}, spec
            )
        except ConfigError as exc:
            inst.waiting, inst.next_at = ("CreateContainerConfigError", str(exc)), now + CONFIG_RETRY_S
            self._event(pod, "Warning", "Failed", f"Error: {exc}", inst.name)
            return
        inst.env = env
        inst.container_id = (
            "containerd://"
            + hashlib.sha256(f"{record.uid}/{inst.name}/{inst.restart_count}".encode()).hexdigest()
        )
        self._event(pod, "Normal", "Created", f"Created container {inst.name}", inst.name)
        failure = command_problem(spec, inst.profile)
        if failure is not None:
            self._event(pod, "Warning", "Failed", f"Error: {failure}", inst.name)
            inst.started_at = now
            self._terminated(pod, inst, now, 127, "StartError", failure)
            return
        self._event(pod, "Normal", "Started", f"Started container {inst.name}", inst.name)
        inst.phase, inst.started_at, inst.ever_started, inst.waiting = "running", now, True, None
        inst.crash = start_crash(inst.profile, env)
        inst.ready, inst.ready_failures, inst.live_failures = False, 0, 0
        inst.ready_probe_at = now + float((spec.get("readinessProbe") or {}).get("initialDelaySeconds", 0))
        inst.live_probe_at = now + float((spec.get("livenessProbe") or {}).get("initialDelaySeconds", 0))
        startup = spec.get("startupProbe")
        inst.startup_ok, inst.startup_failures = not startup, 0
        inst.startup_probe_at = now + float((startup or {}).get("initialDelaySeconds", 0))
        self._logger.started(pod, inst, node["metadata"]["name"], now)

    def _run(self, pod: Obj, spec: Obj, inst: Instance, record: PodRecord, now: float) -> None:
        assert inst.profile is not None and inst.started_at is not None
        uptime = now - inst.started_at
        if inst.crash is not None:
            if uptime >= inst.crash.after_s:
                self._logger.crashed(pod, inst, now)
                self._terminated(pod, inst, now, inst.crash.exit_code, "Error", "")
            return
        limit = container_resources(spec)["memory_limit"]
        usage = self._runtime.usage(pod["metadata"]["namespace"], pod["metadata"]["name"])
        used = (
            usage.memory_mib if usage.memory_mib is not None else memory_mib(inst.profile, uptime, usage.rps)
        )
        if limit is not None and used > limit:
            self._terminated(pod, inst, now, 137, "OOMKilled", "")
            return
        if uptime >= BACKOFF_RESET_S:
            inst.backoff_s = BACKOFF_BASE_S
        outcome = run_probes(spec, inst, record.pod_ip, uptime >= inst.profile.startup_s, now)
        for message in outcome.unhealthy:
            self._event(pod, "Warning", "Unhealthy", message, inst.name)
        if outcome.kill:
            self._probe_kill(pod, inst, now, outcome.kill)

    def _probe_kill(self, pod: Obj, inst: Instance, now: float, kind: str) -> None:
        """The kubelet stops a container whose liveness or startup probe failed too often."""
        message = f"Container {inst.name} failed {kind} probe, will be restarted"
        self._event(pod, "Normal", "Killing", message, inst.name)
        self._logger.shutdown(pod, inst)
        self._terminated(pod, inst, now, 143, "Error", "")

    def _terminated(
        self,
        pod: Obj,
        inst: Instance,
        now: float,
        code: int,
        reason: str,
        message: str,
        *,
        backoff: bool = True,
    ) -> None:
        terminated: dict[str, Any] = {
            "exitCode": code,
            "reason": reason,
            "startedAt": iso(inst.started_at if inst.started_at is not None else now),
            "finishedAt": iso(now),
            "containerID": inst.container_id,
        }
        if message:
            terminated["message"] = message
        policy = pod["spec"].get("restartPolicy", "Always")
        if backoff and (policy == "Never" or (policy == "OnFailure" and code == 0)):
            inst.phase, inst.final, inst.waiting, inst.ready, inst.crash = (
                "done",
                terminated,
                None,
                False,
                None,
            )
            return
        inst.last_terminated = terminated
        inst.restart_count += 1
        inst.ready, inst.crash = False, None
        inst.phase = "backoff" if backoff else "create"
        inst.next_at = now + (inst.backoff_s if backoff else 0.0)
        uid = pod["metadata"]["uid"]
        inst.waiting = ("ContainerCreating", "")
        if backoff:
            inst.waiting = (
                "CrashLoopBackOff",
                f"back-off {int(inst.backoff_s)}s restarting failed container={inst.name} "
                f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}({uid})",
            )
            self._event(
                pod,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {inst.name} in pod {pod['metadata']['name']}_"
                f"{pod['metadata']['namespace']}({uid})",
                inst.name,
            )
            inst.backoff_s = min(inst.backoff_s * 2, BACKOFF_CAP_S)

    # --- outputs --------------------------------------------------------------------------------
    def _publish(self, pod: Obj, spec: Obj, inst: Instance, record: PodRecord, node: Obj, now: float) -> None:
        res = container_resources(spec)
        running = inst.phase == "running"
        listening = (
            running
            and inst.crash is None
            and inst.profile is not None
            and inst.started_at is not None
            and now - inst.started_at >= inst.profile.startup_s
        )
        labels = pod["metadata"].get("labels") or {}
        self._runtime.put(
            ContainerRuntime(
                namespace=pod["metadata"]["namespace"],
                pod=pod["metadata"]["name"],
                container=inst.name,
                app=labels.get("app") or labels.get("app.kubernetes.io/name", ""),
                node=node["metadata"]["name"],
                image=inst.image,
                profile=inst.profile,
                env=inst.env,
                started_at=inst.started_at if running else None,
                restart_count=inst.restart_count,
                running=running,
                ready=running and inst.ready,
                listening_port=inst.profile.port if listening and inst.profile else None,
                memory_limit_mib=res["memory_limit"],
                cpu_limit_millicores=res["cpu_limit"],
                cpu_request_millicores=res["cpu_request"] or 0.0,
                memory_request_mib=res["memory_request"] or 0.0,
                pod_ip=record.pod_ip,
            )
        )

    def _event(
        self, pod: Obj, type_: Literal["Normal", "Warning"], reason: str, message: str, container: str
    ) -> None:
        self._events.record(
            pod,
            type_,
            reason,
            message,
            component=COMPONENT,
            host=pod["spec"].get("nodeName", ""),
            field_path=f"spec.containers{{{container}}}",
        )
