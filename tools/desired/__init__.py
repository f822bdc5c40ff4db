"""Desired state (a folder of manifests or a git repository) and drift of the live cluster from it.

``source`` reads the declared objects, ``drift`` compares them with the cluster through a
server-side-apply dry run, ``sync`` is the action that applies them back through the guard, and
``adopt`` writes a live edit into the desired files as a patch for review.
"""
