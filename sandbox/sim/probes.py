"""Startup, readiness and liveness probes on their schedules, as the kubelet's prober runs them.

Each probe runs every ``periodSeconds`` after ``initialDelaySeconds``; readiness turns False after
``failureThreshold`` consecutive failures (a container starts not ready), liveness and startup
failures past the threshold restart the container. Until a startup probe succeeds, readiness and
liveness do not run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.sim.containers import probe
from sandbox.sim.kubelet_status import Instance
from sandbox.sim.objects import Obj


@dataclass
class ProbeOutcome:
    """What one pass of probing found: Unhealthy event messages, and which probe wants a restart."""

    unhealthy: list[str] = field(default_factory=list)
    kill: str | None = None  # "startup" or "liveness"


def run_probes(spec: Obj, inst: Instance, pod_ip: str, listening: bool, now: float) -> ProbeOutcome:
    """Run the probes of a running container that are due at ``now``; updates ``inst``."""
    outcome = ProbeOutcome()
    if not inst.startup_ok:
        _startup(spec, inst, pod_ip, listening, now, outcome)
        if not inst.startup_ok:
            return outcome  # readiness and liveness wait for the startup probe
    _readiness(spec, inst, pod_ip, listening, now, outcome)
    if outcome.kill is None:
        _liveness(spec, inst, pod_ip, listening, now, outcome)
    return outcome


def _due(config: Obj, next_at: float, now: float) -> float | None:
    """The next run time when the probe is due now, else None."""
    return now + float(config.get("periodSeconds", 10)) if now >= next_at else None


def _startup(spec: Obj, inst: Instance, ip: str, listening: bool, now: float, out: ProbeOutcome) -> None:
    config = spec.get("startupProbe") or {}
    next_at = _due(config, inst.startup_probe_at, now)
    if next_at is None or inst.profile is None:
        return
    inst.startup_probe_at = next_at
    failure = probe(config, spec, inst.profile, listening, ip)
    if failure is None:
        inst.startup_ok = True
        inst.ready_probe_at = max(inst.ready_probe_at, now)
        inst.live_probe_at = max(inst.live_probe_at, now)
        return
    inst.startup_failures += 1
    out.unhealthy.append(f"Startup probe failed: {failure}")
    if inst.startup_failures >= int(config.get("failureThreshold", 3)):
        out.kill = "startup"


def _readiness(spec: Obj, inst: Instance, ip: str, listening: bool, now: float, out: ProbeOutcome) -> None:
    config = spec.get("readinessProbe")
    if not config:
        inst.ready = True
        return
    next_at = _due(config, inst.ready_probe_at, now)
    if next_at is None or inst.profile is None:
        return
    inst.ready_probe_at = next_at
    failure = probe(config, spec, inst.profile, listening, ip)
    if failure is None:
        inst.ready_failures, inst.ready = 0, True
        return
    inst.ready_failures += 1
    if inst.ready_failures >= int(config.get("failureThreshold", 3)):
        inst.ready = False
    out.unhealthy.append(f"Readiness probe failed: {failure}")


def _liveness(spec: Obj, inst: Instance, ip: str, listening: bool, now: float, out: ProbeOutcome) -> None:
    config = spec.get("livenessProbe")
    if not config:
        return
    next_at = _due(config, inst.live_probe_at, now)
    if next_at is None or inst.profile is None:
        return
    inst.live_probe_at = next_at
    failure = probe(config, spec, inst.profile, listening, ip)
    if failure is None:
        inst.live_failures = 0
        return
    inst.live_failures += 1
    out.unhealthy.append(f"Liveness probe failed: {failure}")
    if inst.live_failures >= int(config.get("failureThreshold", 3)):
        out.kill = "liveness"
