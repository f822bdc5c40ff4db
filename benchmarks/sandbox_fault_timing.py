"""Time each fault on a real sandbox: inject → alert in Alertmanager, heal → end-state check passes.

    .venv/bin/python benchmarks/sandbox_fault_timing.py [--faults a,b,...] [--timeout 120]

Targets (issue 3, item 7): the alert within 60 s of the injection; the mitigation (here: ``heal``,
which reverts the injected change through the Kubernetes API) visible within 30 s, judged by the
fault's own end-state check. Writes ``benchmarks/results/sandbox_fault_timing.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from kubernetes import config as kube_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import faults, lifecycle
from sandbox.control import ControlClient

RESULTS = Path(__file__).resolve().parent / "results" / "sandbox_fault_timing.json"


def _epoch(ts: str) -> float:
    return (
        datetime.strptime(ts.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    )


def _alert_started(am_url: str, name: str, since: float) -> bool:
    alerts = httpx.get(f"{am_url}/api/v2/alerts", params={"active": "true"}, timeout=10).json()
    return any(a["labels"].get("alertname") == name and _epoch(a["startsAt"]) >= since - 5 for a in alerts)


def _wait(fn: Any, timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if fn():
            return round(time.monotonic() - start, 1)
        time.sleep(1)
    return None


def time_fault(state: lifecycle.SandboxState, name: str, timeout: float) -> dict[str, Any]:
    """Inject one fault, time its alerts, heal it, time the end-state check."""
    control = ControlClient(state.control_url)
    control.reset()
    _wait(lambda: control.health().get("platform_ready"), 120)
    api = kube_config.new_client_from_config(config_file=state.kubeconfig)
    fault = faults.get_fault(name)
    t0 = time.time()
    faults.inject(api, fault, control)
    alerts = {
        a: _wait(lambda a=a: _alert_started(state.alertmanager_url, a, t0), timeout)
        for a in fault.expected_alerts
    }
    faults.heal(api, control.active_faults(), control)
    fixed = _wait(lambda: fault.check_end_state(api, state.prometheus_url)[0], timeout)
    return {"alert_s": alerts, "heal_to_end_state_s": fixed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faults", default=",".join(n for n in faults.FAULT_NAMES if n != "none"))
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="sandbox-timing-"))
    state = lifecycle.up(directory, progress=print)
    results: dict[str, Any] = {}
    try:
        for name in args.faults.split(","):
            results[name] = time_fault(state, name, args.timeout)
            print(name, json.dumps(results[name]), flush=True)
    finally:
        lifecycle.down(directory)
    out = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "targets": {"alert_s": 60, "mitigation_visible_s": 30},
        "note": "alert_s: injection to the alert active in Alertmanager; heal_to_end_state_s: heal (revert "
        "through the Kubernetes API) to the fault's end-state check passing (rollout + 30 s metric window).",
        "faults": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
