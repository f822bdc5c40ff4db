"""Container output the kubelet is responsible for: start-up lines, crash output, shutdown lines.

Steady-state request logs are the traffic side's; this module writes what a container prints when
it starts, when it dies by itself (the stack trace or fatal line before the exit), and when it is
stopped. Lines go to a :class:`~sandbox.sim.runtime.LogSink` with the labels promtail would attach.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.images import render
from sandbox.sim.kubelet_status import Instance
from sandbox.sim.objects import Clock, Obj
from sandbox.sim.runtime import LogSink


def log_labels(pod: Obj, container: str) -> dict[str, str]:
    """Loki labels of one container's stream: namespace, pod, container, app, node, job."""
    meta = pod["metadata"]
    labels = meta.get("labels") or {}
    app = labels.get("app") or labels.get("app.kubernetes.io/name") or meta["name"]
    return {
        "namespace": meta["namespace"],
        "pod": meta["name"],
        "container": container,
        "app": app,
        "node": pod["spec"].get("nodeName", ""),
        "job": f"{meta['namespace']}/{app}",
    }


def _ts(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ContainerLogger:
    """Writes lifecycle lines of containers to a sink (a no-op without one)."""

    def __init__(self, sink: LogSink | None, clock: Clock) -> None:
        self._sink = sink
        self._clock = clock

    def _write(
        self, pod: Obj, inst: Instance, templates: tuple[str, ...], now: float, **fields: object
    ) -> None:
        if self._sink is None or not templates:
            return
        labels = log_labels(pod, inst.name)
        profile = inst.profile
        base: dict[str, object] = {
            **inst.env,
            "version": profile.version if profile else "",
            "port": profile.port if profile else "",
            "service": profile.service if profile else "",
            "pod": pod["metadata"]["name"],
            **fields,
        }
        for offset, template in enumerate(templates):
            ts = now + offset * 0.001
            line = render(template, ts=_ts(ts), trace_id="", **base)
            self._sink.append(labels, line, int(ts * 1e9), restart=inst.restart_count)

    def started(self, pod: Obj, inst: Instance, node: str, now: float) -> None:
        """The image's start-up lines (only the first one when it is about to crash)."""
        if inst.profile is None:
            return
        lines = inst.profile.log_lines.startup
        self._write(pod, inst, lines[:1] if inst.crash else lines, now)

    def crashed(self, pod: Obj, inst: Instance, now: float) -> None:
        """What the process prints before it exits on its own."""
        if inst.crash is None:
            return
        self._write(pod, inst, inst.crash.lines, now, **dict(inst.crash.fields))

    def shutdown(self, pod: Obj, inst: Instance) -> None:
        """What the process prints when it is asked to stop."""
        if inst.profile is not None:
            self._write(pod, inst, inst.profile.log_lines.shutdown, self._clock())
