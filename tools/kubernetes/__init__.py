"""Kubernetes tools: reads, logs, rollouts and actions over the official client.

The modules of this package are the only ones in the project that import ``kubernetes``.
"""
