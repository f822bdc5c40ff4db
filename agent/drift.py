"""Drift against the desired state for the CLI, the API and ``serve``: check, adopt, sync.

A check reads the desired state (``DEVOPS_AGENT_DESIRED_STATE``) and asks the cluster, object by
object, what a server-side apply would change (``tools.desired.drift``). For each drifted object
the agent proposes two ways out:

- **sync**: ``desired_sync`` through the guard (dry run, policy, approval, audit, undo), exactly
  as the graph's act node would run it (``agent.rightsize.apply_through_guard``);
- **adopt**: a patch of the desired files for review, written under ``DATA_DIR/drift/adopt/``,
  never committed or pushed.

``DriftMonitor`` keeps the last result for ``GET /api/drift`` and the ``devops_agent_drifted_objects``
gauge; ``serve`` runs it every ``drift_interval_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.rightsize import apply_through_guard
from tools.desired.adopt import write_patch
from tools.desired.drift import DriftReport, check
from tools.desired.source import load
from tools.errors import ToolError
from tools.kubernetes.client import Kube

log = logging.getLogger(__name__)
SYNC_ACTION = "desired_sync"


def adopt_dir(settings: Any) -> Path:
    return Path(settings.data_dir) / "drift" / "adopt"


def run_check(settings: Any, tool_deps: Any, namespace: str | None = None) -> DriftReport:
    """One drift check of the whole desired state (or one namespace of it)."""
    desired = load(settings.desired_state, settings.desired_ref)
    return check(
        Kube(tool_deps, None),
        desired.objects,
        settings.drift_ignored_managers,
        source=desired.source,
        namespace=namespace,
        default_namespace=settings.default_namespace,
    )


def proposals(report: DriftReport, settings: Any) -> list[dict[str, Any]]:
    """For each drifted object: the sync action (tool and args) and where its adopt patch would go."""
    out = []
    for d in report.drifted:
        args = {"kind": d.declared.kind, "name": d.declared.name}
        if d.declared.namespace:
            args["namespace"] = d.declared.namespace
        out.append(
            {
                "object": d.ref,
                "sync": {"tool": SYNC_ACTION, "args": args},
                "adopt": None if d.declared.file is None or d.declared.kind == "Secret" else d.declared.file,
            }
        )
    return out


def adopt(settings: Any, tool_deps: Any, report: DriftReport) -> dict[str, str]:
    """Write the adopt patch of every drifted object; object ref -> patch file, or why there is none."""
    desired = load(settings.desired_state, settings.desired_ref)
    kube = Kube(tool_deps, None)
    out: dict[str, str] = {}
    for d in report.drifted:
        if d.state == "missing":
            out[d.ref] = (
                "not adopted: the object is missing from the cluster (sync it, or delete its manifest)"
            )
            continue
        try:
            live = kube.get(
                d.declared.kind, d.declared.name, d.declared.namespace or settings.default_namespace
            )
            out[d.ref] = str(write_patch(d, live, desired, adopt_dir(settings)))
        except ToolError as exc:
            out[d.ref] = f"not adopted: {exc}"
    return out


def sync(deps: Any, args: dict[str, Any], approver: str, *, approved: bool) -> dict[str, Any]:
    """Sync one object back to desired through the guard (nothing happens before an approval)."""
    return apply_through_guard(
        deps, args, approver, approved=approved, action=SYNC_ACTION, reason="sync to desired state"
    )


@dataclass
class DriftMonitor:
    """The last drift check, for the HTTP API and the metrics; ``run`` checks on a schedule."""

    settings: Any
    tool_deps: Any
    last: dict[str, Any] | None = None
    error: str | None = None
    checked_at: float | None = None
    duration_s: float | None = None
    on_check: Callable[[dict[str, Any] | None, str | None], None] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    running: bool = False

    @property
    def enabled(self) -> bool:
        return self.settings.desired_state is not None and self.settings.drift_interval_s > 0

    def check_once(self) -> dict[str, Any] | None:
        """Run one check and keep its result (an error is kept too, and logged)."""
        started = time.monotonic()
        try:
            report = run_check(self.settings, self.tool_deps)
        except ToolError as exc:
            self.error = str(exc)
            log.warning("drift check failed: %s", exc)
        else:
            self.last = report.as_dict() | {"proposals": proposals(report, self.settings)}
            self.error = None
        self.checked_at = time.time()
        self.duration_s = round(time.monotonic() - started, 3)
        if self.on_check is not None:
            self.on_check(self.last, self.error)
        return self.last

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /api/drift`` answers."""
        return {
            "enabled": self.enabled and self.running,
            "interval_s": self.settings.drift_interval_s,
            "checked_at": self.checked_at,
            "duration_s": self.duration_s,
            "error": self.error,
            "report": self.last,
        }

    def drifted_count(self) -> int:
        return len((self.last or {}).get("drifted") or [])

    def run(self) -> None:
        """Check now, then every ``drift_interval_s`` until ``stop``."""
        while not self._stop.is_set():
            self.check_once()
            self._stop.wait(self.settings.drift_interval_s)

    def start(self) -> threading.Thread | None:
        if not self.enabled:
            return None
        self.running = True
        thread = threading.Thread(target=self.run, name="drift-check", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        self.running = False
