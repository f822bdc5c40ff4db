"""Helpers for the change-journal tests: a watcher on the stand-in and waiting for what it records."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tools.deps import Deps
from tools.errors import NotFound
from tools.journal import Change, SqliteJournal, Watcher
from tools.kubernetes.client import Kube

KINDS = ("Deployment", "Service", "ConfigMap", "Secret", "Node")


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll until ``predicate()`` holds (a wait for the watch, not a speed assertion)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class Journal:
    """One journal file, and watchers started and stopped on it like restarts of the agent."""

    def __init__(self, kubeconfig: Path, path: Path) -> None:
        self.path = path
        self.deps = Deps(kubeconfig=kubeconfig, journal_path=path)
        self.store = SqliteJournal(path)
        self.recorded: list[Change] = []
        self.status: list[str] = []
        self.watcher: Watcher | None = None
        self._marks = 0

    def start(self) -> Watcher:
        self.watcher = Watcher(
            self.deps,
            self.store,
            kinds=KINDS,
            watch_timeout_s=5,
            on_change=self.recorded.append,
            on_status=self.status.append,
        )
        self.watcher.start()
        assert self.watcher.wait_synced(10), self.status
        return self.watcher

    def stop(self) -> None:
        assert self.watcher is not None
        self.watcher.stop()
        assert not self.watcher.running

    def settle(self, namespace: str) -> None:
        """Write a marker ConfigMap and wait until it is recorded: watch events arrive in order, so
        everything written before it has been recorded too (or never will be)."""
        self._marks += 1
        kube = Kube(self.deps, None)
        body = {
            "metadata": {"name": "journal-marker", "namespace": namespace},
            "data": {"n": str(self._marks)},
        }
        try:
            kube.patch("configmap", "journal-marker", namespace, {"data": body["data"]}, dry_run=False)
        except NotFound:
            kube.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body=body)
        assert wait_for(
            lambda: any(
                c.name == "journal-marker" and (c.after or {}).get("data", {}).get("n") == str(self._marks)
                for c in self.recorded
            )
        ), self.status

    def changes_of(self, kind: str, name: str) -> list[Change]:
        return [c for c in self.recorded if c.kind == kind and c.name == name]
