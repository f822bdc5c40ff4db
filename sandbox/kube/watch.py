"""Watch: the store's changes fanned out to watch streams, with a short history to resume from.

The hub subscribes to the store once and keeps the last changes in a ring, so a client that lists at
resourceVersion R and then watches from R (kubectl get -w, rollout status, informers) misses nothing.
A watch from a version older than the ring gets ``410 Expired``, as on a real server, and relists.

Each stream remembers which objects it has shown, so an object that stops matching the selector is
reported as DELETED and one that starts matching as ADDED, as the real API server does.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import Any

from sandbox.kube.errors import gone
from sandbox.kube.store import Change, Store

Obj = dict[str, Any]
Matcher = Callable[[Obj], bool]
Event = tuple[str, Obj]  # (type, object)

HISTORY = 5000
POLL_SECONDS = 0.25


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


class WatchHub:
    """Fans store changes out to watch streams; keeps a ring of recent changes to resume from."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._history: deque[Change] = deque(maxlen=HISTORY)
        self._oldest_rv = store.resource_version
        self._streams: list[queue.Queue[Change]] = []
        self.stopped = threading.Event()
        self._unsubscribe = store.subscribe(self._on_change)
        with self._lock:  # changes between the first read and subscribing are not in the ring
            self._oldest_rv = max(self._oldest_rv, store.resource_version)

    @property
    def active(self) -> int:
        """How many watch streams are open."""
        with self._lock:
            return len(self._streams)

    def close(self) -> None:
        self.stopped.set()
        self._unsubscribe()

    def _on_change(self, change: Change) -> None:
        with self._lock:
            if len(self._history) == self._history.maxlen:
                self._oldest_rv = self._history[0].resource_version
            self._history.append(change)
            for q in self._streams:
                q.put_nowait(change)

    def stream(
        self,
        resource: str,
        namespace: str | None,
        matches: Matcher,
        resource_version: str | None,
        deadline: float,
        alive: Callable[[], bool] = lambda: True,
    ) -> Generator[Event, None, None]:
        """Events for one watch request until ``deadline`` (monotonic seconds), server shutdown, or
        ``alive()`` turning false while idle (the client went away).

        ``resource_version`` empty or "0": synthetic ADDED for what exists now, then changes.
        Otherwise: every change after that version (410 Expired when it is too old to replay).
        """
        q: queue.Queue[Change] = queue.Queue()
        requested = self._parse_rv(resource_version)
        fresh = requested is None
        since = self._store.resource_version if requested is None else requested
        with self._lock:
            if since < self._oldest_rv:
                raise gone(f"too old resource version: {since} ({self._oldest_rv})")
            backlog = [c for c in self._history if c.resource_version > since]
            self._streams.append(q)
        try:
            yield from self._run(resource, namespace, matches, fresh, backlog, q, deadline, alive)
        finally:
            with self._lock:
                self._streams.remove(q)

    @staticmethod
    def _parse_rv(resource_version: str | None) -> int | None:
        if not resource_version or resource_version == "0":
            return None
        try:
            return int(resource_version)
        except ValueError:
            raise gone(f"invalid resource version {resource_version!r}: expected an integer") from None

    def _run(
        self,
        resource: str,
        namespace: str | None,
        matches: Matcher,
        fresh: bool,
        backlog: list[Change],
        q: queue.Queue[Change],
        deadline: float,
        alive: Callable[[], bool],
    ) -> Iterator[Event]:
        current = self._store.list(resource, namespace)
        shown = {_key(o): int(o["metadata"]["resourceVersion"]) for o in current if matches(o)}
        if fresh:
            for obj in current:
                if _key(obj) in shown:
                    yield "ADDED", obj
        else:
            shown = self._known_at_start(resource, namespace, matches, current, backlog)
        for change in backlog:
            yield from self._translate(change, resource, namespace, matches, shown)
        while not self.stopped.is_set() and time.monotonic() < deadline:
            try:
                change = q.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not alive():
                    return
                continue
            yield from self._translate(change, resource, namespace, matches, shown)

    @staticmethod
    def _known_at_start(
        resource: str, namespace: str | None, matches: Matcher, current: list[Obj], backlog: list[Change]
    ) -> dict[tuple[str, str], int]:
        """The objects a resuming client already knows: now's, minus those the backlog adds, plus those it removes."""
        shown = {_key(o): 0 for o in current if matches(o)}
        first: dict[tuple[str, str], Change] = {}
        for change in backlog:
            if change.resource == resource and namespace in (None, change.obj["metadata"].get("namespace")):
                first.setdefault(_key(change.obj), change)
        for key, change in first.items():
            if change.type == "ADDED":
                shown.pop(key, None)
            elif matches(change.obj):
                shown[key] = 0
        return shown

    @staticmethod
    def _translate(
        change: Change,
        resource: str,
        namespace: str | None,
        matches: Matcher,
        shown: dict[tuple[str, str], int],
    ) -> Iterator[Event]:
        obj = change.obj
        if change.resource != resource or (
            namespace is not None and obj["metadata"].get("namespace") != namespace
        ):
            return
        key = _key(obj)
        if key in shown and change.resource_version <= shown[key]:
            return  # already reflected in the initial listing
        was_shown = key in shown
        if change.type == "DELETED" or not matches(obj):
            if was_shown:
                del shown[key]
                yield "DELETED", obj
            return
        shown[key] = change.resource_version
        yield ("MODIFIED" if was_shown else "ADDED"), obj
