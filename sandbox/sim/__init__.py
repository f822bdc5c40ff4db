"""The simulated cluster's machinery: controllers, scheduler, kubelet and the container runtime.

Behaviour follows from object state alone: the controllers read the store and write objects and
events back, exactly like their upstream counterparts; there are no hidden fault switches.
"""
