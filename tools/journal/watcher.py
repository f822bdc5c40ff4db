"""Following the Kubernetes watch API into the journal.

One thread per kind: list, then watch from the list's resourceVersion (with bookmarks), keeping
the last resourceVersion seen as the store's bookmark. On a restart the watch resumes from the
bookmark; when the server no longer has it (410 Gone) the kind is listed again and every object is
compared with its stored version, so changes made while the journal was down are recorded once,
and objects that vanished are recorded as deleted. Connection failures back off exponentially.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tools.base import ToolDeps
from tools.errors import ToolError
from tools.journal.recorder import OnChange, Recorder
from tools.journal.store import JournalStore
from tools.kubernetes.client import Kube, WatchExpired

log = logging.getLogger("devops_agent.journal")

WATCHED_KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Service",
    "ConfigMap",
    "Secret",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
    "NetworkPolicy",
    "Node",
)


class Watcher:
    """Records every version of the watched kinds into ``store`` until :meth:`stop`."""

    def __init__(
        self,
        deps: ToolDeps,
        store: JournalStore,
        *,
        kinds: tuple[str, ...] = WATCHED_KINDS,
        namespace: str | None = None,
        context: str | None = None,
        watch_timeout_s: int = 60,
        max_backoff_s: float = 30.0,
        retention: timedelta | None = None,
        max_changes: int | None = None,
        prune_interval_s: float = 600.0,
        on_change: OnChange | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.kube = Kube(deps, context)
        self.store = store
        self.kinds = kinds
        self.namespace = namespace
        self.context = context
        self.watch_timeout_s = watch_timeout_s
        self.max_backoff_s = max_backoff_s
        self.retention = retention
        self.max_changes = max_changes
        self.prune_interval_s = prune_interval_s
        self.recorder = Recorder(store, on_change=on_change)
        self.on_status = on_status or (lambda message: log.info("%s", message))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.synced: dict[str, threading.Event] = {k: threading.Event() for k in kinds}

    def key(self, kind: str) -> str:
        """The bookmark key of one watch: context, namespace scope and kind."""
        return f"{self.context or ''}|{self.namespace or '*'}|{kind}"

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start one thread per kind and the retention thread (daemons: they never block an exit)."""
        self._stop.clear()
        for kind in self.kinds:
            t = threading.Thread(target=self._follow, args=(kind,), name=f"journal-{kind}", daemon=True)
            t.start()
            self._threads.append(t)
        if self.retention is not None or self.max_changes is not None:
            t = threading.Thread(target=self._prune_loop, name="journal-retention", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop following: close the open watch streams and wait for the threads."""
        self._stop.set()
        with self._lock:
            streams = list(self._open.values())
        for raw in streams:
            with contextlib.suppress(Exception):
                raw.shutdown()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    def wait_synced(self, timeout: float) -> bool:
        """True once every kind has been listed (and watched) at least once."""
        return all(e.wait(timeout) for e in self.synced.values())

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    # --- following one kind --------------------------------------------------------------------
    def _follow(self, kind: str) -> None:
        key = self.key(kind)
        version = self.store.bookmark(key)
        backoff = 0.5
        while not self._stop.is_set():
            try:
                if not version:
                    version = self._relist(kind, key)
                else:
                    self.synced[kind].set()
                version = self._watch(kind, key, version)
                backoff = 0.5
            except WatchExpired as exc:
                self.on_status(f"{kind}: {exc}; listing again")
                version = None
            except ToolError as exc:
                if self._stop.is_set():
                    break
                self.on_status(f"{kind}: {exc}; retrying in {backoff:.1f}s")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
            except Exception as exc:  # a bug must not end the journal silently
                log.exception("journal watch of %s failed", kind)
                self.on_status(f"{kind}: unexpected {type(exc).__name__}: {exc}; retrying in {backoff:.1f}s")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)

    def _relist(self, kind: str, key: str) -> str:
        first = self.store.bookmark(key) is None
        items, version = self.kube.list_versioned(kind, self.namespace)
        seen = set()
        for obj in items:
            self.recorder.observe(kind, obj, first_sighting=first)
            meta = obj.get("metadata") or {}
            seen.add((meta.get("namespace") or None, meta.get("name")))
        for namespace, name in self.store.live_objects(kind):
            if (self.namespace is None or namespace == self.namespace) and (namespace, name) not in seen:
                self.recorder.deleted(kind, namespace, name)
        self.store.set_bookmark(key, version)
        self.synced[kind].set()
        self.on_status(f"{kind}: listed {len(items)} at resourceVersion {version}")
        return version

    def _watch(self, kind: str, key: str, version: str) -> str:
        def opened(raw: Any) -> None:
            with self._lock:
                self._open[kind] = raw
            if self._stop.is_set():
                with contextlib.suppress(Exception):
                    raw.shutdown()

        try:
            for event in self.kube.watch(
                kind, version, namespace=self.namespace, timeout_s=self.watch_timeout_s, on_open=opened
            ):
                if self._stop.is_set():
                    break
                obj = event.get("object") or {}
                meta = obj.get("metadata") or {}
                rv = str(meta.get("resourceVersion") or "")
                if event.get("type") == "DELETED":
                    self.recorder.deleted(
                        kind, meta.get("namespace") or None, str(meta.get("name")), rv or None
                    )
                elif event.get("type") in ("ADDED", "MODIFIED"):
                    self.recorder.observe(kind, obj)
                if rv:
                    version = rv
                    self.store.set_bookmark(key, version)
        finally:
            with self._lock:
                self._open.pop(kind, None)
        return version

    def _prune_loop(self) -> None:
        while not self._stop.is_set():
            try:
                removed = self.store.prune(max_age=self.retention, max_changes=self.max_changes)
                if removed:
                    self.on_status(f"retention: pruned {removed} old change(s)")
            except Exception as exc:
                log.warning("journal retention failed: %s", exc)
            self._stop.wait(self.prune_interval_s)
