"""Failpoints: the process kills itself at a named point of the graph, for crash-recovery tests.

The idea is etcd's gofail: a crash test needs to stop a real ``serve`` at an exact place, which a
``kill -9`` from outside, timed by polling, cannot hit. Set

- ``DEVOPS_AGENT_FAILPOINTS``: comma-separated points, ``before:NODE`` (as the node starts: what
  the previous node wrote is checkpointed) or ``after:NODE`` (its work is done and its side effects
  made, but its writes are not checkpointed yet); ``*`` for every node, e.g. ``before:*,after:act``;
- ``DEVOPS_AGENT_FAILPOINT_DIR``: a directory; the first hit of a point creates a marker file there
  and SIGKILLs the process, later hits find the marker and pass. So a restarted process runs on.

Unset (the default), :func:`wrap` returns the node unchanged: no cost, no behaviour.
"""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ENV_POINTS = "DEVOPS_AGENT_FAILPOINTS"
ENV_DIR = "DEVOPS_AGENT_FAILPOINT_DIR"
WHEN = ("before", "after")

F = TypeVar("F", bound=Callable[..., Any])


class FailpointError(ValueError):
    """A failpoint setting that cannot be understood."""


def parse(spec: str) -> set[tuple[str, str]]:
    """``"before:*,after:act"`` → ``{("before", "*"), ("after", "act")}``."""
    points = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        when, _, node = part.partition(":")
        if when not in WHEN or not node:
            raise FailpointError(f"{ENV_POINTS}: {part!r} is not before:NODE or after:NODE (NODE may be *)")
        points.add((when, node))
    return points


def _hit(when: str, node: str, directory: Path) -> None:
    marker = directory / f"{when}-{node}"
    try:
        marker.touch(exist_ok=False)  # atomic: one process, one hit
    except FileExistsError:
        return
    os.kill(os.getpid(), signal.SIGKILL)


def wrap(name: str, fn: F, environ: dict[str, str] | None = None) -> F:
    """``fn``, or ``fn`` with the configured failpoints of node ``name`` around it."""
    env = os.environ if environ is None else environ
    spec = env.get(ENV_POINTS, "")
    if not spec:
        return fn
    points = parse(spec)
    before = ("before", name) in points or ("before", "*") in points
    after = ("after", name) in points or ("after", "*") in points
    if not (before or after):
        return fn
    if not env.get(ENV_DIR):
        raise FailpointError(f"{ENV_POINTS} is set: {ENV_DIR} must name the directory for its markers")
    directory = Path(env[ENV_DIR])
    directory.mkdir(parents=True, exist_ok=True)

    @functools.wraps(fn)
    def node(*args: Any, **kwargs: Any) -> Any:
        if before:
            _hit("before", name, directory)
        out = fn(*args, **kwargs)
        if after:
            _hit("after", name, directory)
        return out

    return node  # type: ignore[return-value]
