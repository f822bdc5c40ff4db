"""The simulated cluster's machinery: controllers, scheduler, kubelet and the container runtime.

Behaviour follows from object state alone: the controllers read the store and write objects and
events back, exactly like their upstream counterparts; there are no hidden fault switches.
"""

from sandbox.sim.runtime import ContainerRuntime, LogSink, PodUsage, Runtime
from sandbox.sim.simulation import Simulation

__all__ = ["ContainerRuntime", "LogSink", "PodUsage", "Runtime", "Simulation"]
