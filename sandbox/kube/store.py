"""The object store behind the Kubernetes API stand-in.

Objects are plain dicts exactly as the API serves them (``apiVersion``, ``kind``, ``metadata``,
``spec``, ``status``). The store assigns ``uid``, ``resourceVersion``, ``generation`` (bumped on spec
changes), ``creationTimestamp``, and notifies subscribers of every change (watch, controllers).

Keys: ``(resource, namespace, name)`` with resource the plural lower-case API resource
(``pods``, ``deployments``, ``replicasets``, ``services``, ``endpoints``, ``configmaps``, ``secrets``,
``events``, ``nodes``, ``namespaces``, ``horizontalpodautoscalers``); namespace ``""`` for
cluster-scoped objects.

Thread-safe: the HTTP server, the controllers and the simulation share one instance.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Obj = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NotFound(KeyError):
    pass


class Conflict(Exception):
    pass


@dataclass(frozen=True)
class Change:
    type: EventType
    resource: str
    obj: Obj
    resource_version: int


class Store:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._objs: dict[tuple[str, str, str], Obj] = {}
        self._rv = itertools.count(1)
        self._last_rv = 0
        self._subs: list[Callable[[Change], None]] = []

    # --- reads --------------------------------------------------------------------------------
    def get(self, resource: str, namespace: str, name: str) -> Obj:
        with self._lock:
            try:
                return copy.deepcopy(self._objs[(resource, namespace, name)])
            except KeyError:
                raise NotFound(f"{resource} {namespace}/{name}") from None

    def try_get(self, resource: str, namespace: str, name: str) -> Obj | None:
        try:
            return self.get(resource, namespace, name)
        except NotFound:
            return None

    def list(self, resource: str, namespace: str | None = None) -> list[Obj]:
        """All objects of a resource (namespace None = all namespaces), sorted by namespace/name."""
        with self._lock:
            items = [
                copy.deepcopy(o)
                for (r, ns, _), o in self._objs.items()
                if r == resource and (namespace is None or ns == namespace)
            ]
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    @property
    def resource_version(self) -> int:
        return self._last_rv

    # --- writes -------------------------------------------------------------------------------
    def create(self, resource: str, obj: Obj) -> Obj:
        with self._lock:
            meta = obj.setdefault("metadata", {})
            ns = meta.get("namespace", "")
            name = meta["name"]
            key = (resource, ns, name)
            if key in self._objs:
                raise Conflict(f"{resource} {ns}/{name} already exists")
            meta.setdefault("uid", str(uuid.uuid4()))
            if not meta.get("creationTimestamp"):  # templates carry `creationTimestamp: null`
                meta["creationTimestamp"] = now_iso()
            meta["generation"] = 1
            self._stamp(obj)
            self._objs[key] = copy.deepcopy(obj)
            self._emit("ADDED", resource, obj)
            return copy.deepcopy(obj)

    def update(self, resource: str, obj: Obj, *, expect_rv: str | None = None) -> Obj:
        """Replace an object. Bumps generation when ``spec`` changed. ``expect_rv`` gives 409 semantics."""
        with self._lock:
            meta = obj["metadata"]
            key = (resource, meta.get("namespace", ""), meta["name"])
            old = self._objs.get(key)
            if old is None:
                raise NotFound(f"{resource} {key[1]}/{key[2]}")
            if expect_rv and expect_rv != old["metadata"]["resourceVersion"]:
                raise Conflict(
                    f"the object has been modified; please apply your changes to the latest version "
                    f"(resourceVersion {expect_rv} != {old['metadata']['resourceVersion']})"
                )
            meta["uid"] = old["metadata"]["uid"]
            meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            gen = old["metadata"].get("generation", 1)
            if obj.get("spec") != old.get("spec"):
                gen += 1
            meta["generation"] = gen
            self._stamp(obj)
            self._objs[key] = copy.deepcopy(obj)
            self._emit("MODIFIED", resource, obj)
            return copy.deepcopy(obj)

    def mutate(self, resource: str, namespace: str, name: str, fn: Callable[[Obj], None]) -> Obj:
        """Read-modify-write under the lock (controllers use this)."""
        with self._lock:
            obj = self.get(resource, namespace, name)
            fn(obj)
            return self.update(resource, obj)

    def delete(self, resource: str, namespace: str, name: str) -> Obj:
        with self._lock:
            key = (resource, namespace, name)
            obj = self._objs.pop(key, None)
            if obj is None:
                raise NotFound(f"{resource} {namespace}/{name}")
            self._stamp(obj)
            self._emit("DELETED", resource, obj)
            return copy.deepcopy(obj)

    # --- notifications ------------------------------------------------------------------------
    def subscribe(self, fn: Callable[[Change], None]) -> Callable[[], None]:
        """Call ``fn`` on every change (under the store lock: keep it short). Returns an unsubscribe."""
        with self._lock:
            self._subs.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subs:
                    self._subs.remove(fn)

        return unsubscribe

    def _stamp(self, obj: Obj) -> None:
        rv = next(self._rv)
        self._last_rv = rv
        obj["metadata"]["resourceVersion"] = str(rv)

    def _emit(self, type_: EventType, resource: str, obj: Obj) -> None:
        change = Change(type_, resource, copy.deepcopy(obj), int(obj["metadata"]["resourceVersion"]))
        for fn in list(self._subs):
            fn(change)

    def __iter__(self) -> Iterator[tuple[str, Obj]]:
        with self._lock:
            items = [(k[0], copy.deepcopy(v)) for k, v in self._objs.items()]
        return iter(items)
