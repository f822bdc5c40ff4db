"""v1 Events, written into the store as the real components write them.

Repeats of the same (object, type, reason, message, component) bump ``count`` and
``lastTimestamp`` on the existing Event instead of creating a new one, like client-go's event
correlator. The recorder keeps at most ``max_events`` of its own events, deleting the oldest.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Literal

from sandbox.kube.store import Conflict, NotFound
from sandbox.sim.objects import Clock, iso, ref
from sandbox.sim.view import StoreView

EventType = Literal["Normal", "Warning"]
_Key = tuple[str, str, str, str, str, str, str]


class EventRecorder:
    """Writes and de-duplicates Events for the simulated components."""

    def __init__(self, store: StoreView, clock: Clock, *, max_events: int = 2000) -> None:
        self._store = store
        self._clock = clock
        self._max = max_events
        self._lock = threading.Lock()
        self._known: OrderedDict[_Key, tuple[str, str]] = OrderedDict()  # key -> (namespace, name)

    def record(
        self,
        obj: Mapping[str, Any],
        type_: EventType,
        reason: str,
        message: str,
        *,
        component: str,
        host: str = "",
        field_path: str = "",
    ) -> None:
        """Record that ``component`` saw ``reason`` on ``obj`` (a full object, not a reference)."""
        involved = ref(obj)
        if field_path:
            involved["fieldPath"] = field_path
        namespace = involved["namespace"] or "default"
        key: _Key = (
            namespace,
            involved["kind"],
            involved["name"],
            involved["uid"],
            reason,
            message,
            component,
        )
        now = iso(self._clock())
        with self._lock:
            known = self._known.get(key)
            if known is not None and self._bump(known, now):
                self._known.move_to_end(key)
                return
            name = f"{involved['name']}.{secrets.token_hex(8)}"
            event = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "type": type_,
                "source": {"component": component, **({"host": host} if host else {})},
                "reportingComponent": component,
                "reportingInstance": host,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "eventTime": None,
                "count": 1,
            }
            try:
                self._store.create("events", event)
            except Conflict:
                return
            self._known[key] = (namespace, name)
            self._trim()

    def _bump(self, known: tuple[str, str], now: str) -> bool:
        def bump(event: dict[str, Any]) -> None:
            event["count"] = int(event.get("count") or 1) + 1
            event["lastTimestamp"] = now

        try:
            self._store.mutate("events", known[0], known[1], bump)
        except NotFound:
            return False
        return True

    def _trim(self) -> None:
        while len(self._known) > self._max:
            _, (namespace, name) = self._known.popitem(last=False)
            with contextlib.suppress(NotFound):
                self._store.delete("events", namespace, name)
