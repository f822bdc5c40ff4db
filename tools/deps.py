"""The concrete dependency object tools receive (``tools.base.ToolDeps``).

The agent builds one from its settings; tests build one pointing at the sandbox or at fakes.
Clients are created lazily and cached: one ``ApiClient`` per kubeconfig context, so one session can
work across several clusters.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.errors import BackendNotConfigured


def _default_raw_dir() -> Path:
    return Path(tempfile.gettempdir()) / "devops-agent-raw"


@dataclass
class Deps:
    """Clients and limits for tools.

    ``kube_context`` is the context used when a tool gets ``context=None``; ``http_timeout_s`` bounds
    every backend request; ``token_budget`` bounds every result's text; ``raw_dir`` receives full
    outputs that were too large for the budget; ``journal_path`` is the change journal's SQLite file;
    ``desired_state`` (and ``desired_ref`` for a git repository) is where the declared manifests are,
    ``drift_ignored_managers`` the controllers whose fields are never drift.
    """

    kubeconfig: Path | None = None
    kube_context: str | None = None
    prometheus_url: str | None = None
    loki_url: str | None = None
    http_timeout_s: float = 10.0
    token_budget: int = 1500
    raw_dir: Path = field(default_factory=_default_raw_dir)
    journal_path: Path | None = None
    desired_state: Path | None = None
    desired_ref: str = "HEAD"
    drift_ignored_managers: tuple[str, ...] = ("kube-controller-manager",)
    default_namespace: str = "default"
    _kube: dict[str | None, Any] = field(default_factory=dict, init=False, repr=False)
    _prometheus: Any = field(default=None, init=False, repr=False)
    _loki: Any = field(default=None, init=False, repr=False)
    _journal: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def kube(self, context: str | None = None) -> Any:
        """The ``kubernetes.client.ApiClient`` of a context (None = ``kube_context`` or the current one)."""
        from tools.kubernetes.client import new_api_client

        ctx = context or self.kube_context
        with self._lock:
            if ctx not in self._kube:
                self._kube[ctx] = new_api_client(self.kubeconfig, ctx)
            return self._kube[ctx]

    def prometheus(self) -> Any:
        """The ``PrometheusConnect`` client; raises ``BackendNotConfigured`` without a URL."""
        from tools.prometheus import connect

        if not self.prometheus_url:
            raise BackendNotConfigured(
                "Prometheus is not configured: set DEVOPS_AGENT_PROMETHEUS_URL (e.g. http://127.0.0.1:9090)."
            )
        with self._lock:
            if self._prometheus is None:
                self._prometheus = connect(self.prometheus_url, self.http_timeout_s)
            return self._prometheus

    def loki(self) -> Any:
        """The Loki HTTP client; raises ``BackendNotConfigured`` without a URL."""
        from tools.loki import LokiClient

        if not self.loki_url:
            raise BackendNotConfigured(
                "Loki is not configured: set DEVOPS_AGENT_LOKI_URL (e.g. http://127.0.0.1:3100)."
            )
        with self._lock:
            if self._loki is None:
                self._loki = LokiClient(self.loki_url, self.http_timeout_s)
            return self._loki

    def journal(self) -> Any:
        """The change journal's store (``tools.journal.JournalStore``), or None when no journal has
        been written at ``journal_path`` (``what_changed`` then falls back to what the cluster keeps)."""
        from tools.journal.store import SqliteJournal

        with self._lock:
            if self._journal is None and self.journal_path is not None and self.journal_path.exists():
                self._journal = SqliteJournal(self.journal_path)
            return self._journal

    def close(self) -> None:
        """Release the clients' connection pools."""
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            for api in self._kube.values():
                api.close()
            self._kube.clear()
            if self._loki is not None:
                self._loki.close()
                self._loki = None
            self._prometheus = None
