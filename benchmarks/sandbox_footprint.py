"""Measure the sandbox's idle footprint: CPU (share of one core) and RSS of every process it runs.

    .venv/bin/python benchmarks/sandbox_footprint.py [--dir DIR] [--settle 30] [--seconds 60]

Starts a sandbox (or measures the one already running in ``--dir``), lets it settle, samples
``/proc/<pid>/stat`` and ``/proc/<pid>/status`` of the sandbox server, Prometheus and Alertmanager
over ``--seconds``, and writes ``benchmarks/results/sandbox_footprint.json``. Target: under 25% of
one core and under 1 GiB in total.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import lifecycle

RESULTS = Path(__file__).resolve().parent / "results" / "sandbox_footprint.json"
TICKS = os.sysconf("SC_CLK_TCK")
CPU_TARGET = 0.25
RSS_TARGET_MIB = 1024.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    """Resident set size in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(pids: dict[str, int], seconds: float) -> dict[str, dict[str, float]]:
    """CPU share of one core over ``seconds``, and peak RSS, per process."""
    start = {name: cpu_seconds(pid) for name, pid in pids.items()}
    peak = {name: rss_mib(pid) for name, pid in pids.items()}
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        time.sleep(1)
        for name, pid in pids.items():
            peak[name] = max(peak[name], rss_mib(pid))
    elapsed = time.monotonic() - t0
    return {
        name: {
            "cpu_core_share": round((cpu_seconds(pid) - start[name]) / elapsed, 4),
            "rss_mib": round(peak[name], 1),
        }
        for name, pid in pids.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="measure the sandbox running here")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to wait before measuring")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds to measure")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    own = args.dir is None
    directory = args.dir or Path(tempfile.mkdtemp(prefix="sandbox-footprint-"))
    state = lifecycle.up(directory, progress=print) if own else lifecycle.require_state(directory)
    try:
        time.sleep(args.settle)
        per_process = measure(state.pids, args.seconds)
    finally:
        if own:
            lifecycle.down(directory)
    total_cpu = round(sum(p["cpu_core_share"] for p in per_process.values()), 4)
    total_rss = round(sum(p["rss_mib"] for p in per_process.values()), 1)
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settle_s": args.settle,
        "window_s": args.seconds,
        "processes": per_process,
        "total": {"cpu_core_share": total_cpu, "rss_mib": total_rss},
        "targets": {"cpu_core_share": CPU_TARGET, "rss_mib": RSS_TARGET_MIB},
        "within_targets": total_cpu < CPU_TARGET and total_rss < RSS_TARGET_MIB,
        "note": "CPU is measured on a shared machine; other load does not count (per-process /proc accounting).",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["total"]), "within targets" if result["within_targets"] else "OVER TARGET")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
