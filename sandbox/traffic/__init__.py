"""Traffic through the simulated platform: load, service-to-service calls, credentials, capacity.

Public API: :class:`Traffic` (the engine) and :class:`TrafficControl` (surges, the one input that
is not a Kubernetes object). ``Traffic.metrics`` is the state ``sandbox.metrics`` exposes.
"""

from sandbox.traffic.control import Surge, TrafficControl
from sandbox.traffic.engine import Traffic
from sandbox.traffic.state import MetricState

__all__ = ["MetricState", "Surge", "Traffic", "TrafficControl"]
