"""Traffic load: the one input to the sandbox that is not a Kubernetes object (issue 8, item 7).

Baseline traffic follows the wall-clock day by itself; :class:`TrafficControl` only holds the
*surges* an operator (``sandbox load ...``) or the ``traffic-surge`` fault asks for. The traffic
engine reads :meth:`TrafficControl.multiplier` every tick, so a surge takes effect within a second
and ends as soon as it is cleared or its duration runs out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Surge:
    """Extra load on one service (optionally one route), e.g. a batch client hammering ``/predict``.

    ``multiplier`` scales the load the service would get without the surge (4.0 = four times the
    baseline). ``client`` names the caller the extra load comes from; it shows in log lines.
    ``expires_at`` is a wall-clock time (seconds) or None for "until cleared".
    """

    namespace: str
    service: str
    route: str | None
    multiplier: float
    client: str | None
    expires_at: float | None

    def applies_to(self, namespace: str, service: str, route: str | None) -> bool:
        """Whether this surge adds load to ``service``'s ``route`` in ``namespace``."""
        if self.namespace != namespace or self.service != service:
            return False
        return self.route is None or self.route == route


class TrafficControl:
    """Thread-safe set of active surges; the control API and the CLI write it, the engine reads it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._surges: list[Surge] = []

    def set_surge(
        self,
        namespace: str,
        service: str,
        route: str | None = None,
        multiplier: float = 4.0,
        client: str | None = None,
        duration_s: float | None = None,
    ) -> Surge:
        """Add (or replace) the surge on ``namespace/service[/route]``; returns it.

        A multiplier of 1.0 is accepted and means "no extra load" (it replaces an earlier surge).
        """
        if not multiplier > 0:
            raise ValueError(
                f"surge multiplier must be > 0 (got {multiplier!r}); use clear() to remove a surge"
            )
        if duration_s is not None and not duration_s > 0:
            raise ValueError(f"surge duration_s must be > 0 seconds or None (got {duration_s!r})")
        expires = None if duration_s is None else self._clock() + duration_s
        surge = Surge(namespace, service, route, float(multiplier), client, expires)
        with self._lock:
            self._surges = [
                s for s in self._surges if (s.namespace, s.service, s.route) != (namespace, service, route)
            ]
            self._surges.append(surge)
        return surge

    def clear(self, namespace: str | None = None, service: str | None = None) -> int:
        """Remove surges (all, or those on a namespace / service); returns how many were removed."""
        with self._lock:
            keep = [
                s
                for s in self._surges
                if (namespace is not None and s.namespace != namespace)
                or (service is not None and s.service != service)
            ]
            removed = len(self._surges) - len(keep)
            self._surges = keep
        return removed

    def active(self) -> list[Surge]:
        """The surges in force now (expired ones are dropped)."""
        now = self._clock()
        with self._lock:
            self._surges = [s for s in self._surges if s.expires_at is None or s.expires_at > now]
            return list(self._surges)

    def multiplier(self, namespace: str, service: str, route: str | None = None) -> float:
        """The load multiplier on a service's route now (product of the surges that apply)."""
        factor = 1.0
        for surge in self.active():
            if surge.applies_to(namespace, service, route):
                factor *= surge.multiplier
        return factor

    def clients(self, namespace: str, service: str, route: str | None = None) -> list[str]:
        """Names of the clients behind the surges on a service's route (for log lines)."""
        return [s.client for s in self.active() if s.client and s.applies_to(namespace, service, route)]

    def state(self) -> dict[str, Any]:
        """JSON-ready view for the control API and ``sandbox load``: ``{"surges": [...]}``."""
        now = self._clock()
        surges = []
        for s in self.active():
            item = asdict(s)
            item["remaining_s"] = None if s.expires_at is None else round(s.expires_at - now, 1)
            surges.append(item)
        return {"surges": surges}
