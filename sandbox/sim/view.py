"""A read cache over the store for the controllers: lists are copied only after something changed.

Every controller lists pods, replica sets and deployments on every pass; on a settled cluster
nothing changed since the last pass, so copying every object again is wasted work. The view keeps
the last copy of each resource's list and drops it when the store reports a change to that
resource. Objects it returns are shared between callers: read them, never modify them in place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sandbox.kube.store import Change, Store
from sandbox.sim.objects import Obj


class StoreView:
    """Cached ``list`` over a :class:`~sandbox.kube.store.Store` (other calls go to the store)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._cache: dict[str, list[Obj]] = {}
        self._generation: dict[str, int] = {}
        store.subscribe(self._changed)

    def _changed(self, change: Change) -> None:
        with self._lock:
            self._cache.pop(change.resource, None)
            self._generation[change.resource] = self._generation.get(change.resource, 0) + 1

    def list(self, resource: str, namespace: str | None = None) -> list[Obj]:
        """Objects of ``resource`` (namespace None = all), sorted by namespace/name. Do not modify."""
        with self._lock:
            items = self._cache.get(resource)
            generation = self._generation.get(resource, 0)
        if items is None:
            items = self._store.list(resource)
            with self._lock:
                if self._generation.get(resource, 0) == generation:
                    self._cache[resource] = items
        if namespace is None:
            return list(items)
        return [o for o in items if o["metadata"].get("namespace", "") == namespace]

    # --- everything else goes straight to the store ------------------------------------------
    def get(self, resource: str, namespace: str, name: str) -> Obj:
        return self._store.get(resource, namespace, name)

    def try_get(self, resource: str, namespace: str, name: str) -> Obj | None:
        return self._store.try_get(resource, namespace, name)

    def create(self, resource: str, obj: Obj) -> Obj:
        return self._store.create(resource, obj)

    def update(self, resource: str, obj: Obj) -> Obj:
        return self._store.update(resource, obj)

    def mutate(self, resource: str, namespace: str, name: str, fn: Callable[[Obj], None]) -> Obj:
        return self._store.mutate(resource, namespace, name, fn)

    def delete(self, resource: str, namespace: str, name: str) -> Obj:
        return self._store.delete(resource, namespace, name)
