"""The simulated cluster's machinery: controllers, scheduler, kubelet and the container runtime.

Behaviour follows from object state alone: the controllers read the store and write objects and
events back, exactly like their upstream counterparts; there are no hidden fault switches.

- ``simulation``: :class:`Simulation` wires everything; ``tick()`` for tests, ``start()``/``stop()``.
- ``runtime``: :class:`Runtime` (what runs: env, uptime, readiness, listening port; pod load written
  by the traffic side) and the :class:`LogSink` protocol.
- ``deployments``, ``replicasets``, ``scheduler``, ``kubelet`` (+ ``containers``, ``kubelet_status``,
  ``container_logs``), ``nodes`` (lifecycle and eviction), ``endpoints``, ``hpa``, ``gc``, ``events``.
- ``testing``: :class:`~sandbox.sim.testing.SimCluster` and a fake clock to drive it deterministically.
"""

from sandbox.sim.runtime import ContainerRuntime, LogSink, PodUsage, Runtime
from sandbox.sim.simulation import Simulation

__all__ = ["ContainerRuntime", "LogSink", "PodUsage", "Runtime", "Simulation"]
