"""How fast the CLI starts: wall time and peak RSS of `devops-agent --help` and `approvals list`.

Each command runs ``--runs`` times as a fresh ``python -m agent.cli`` process (after one warm-up run
that is not counted) on an empty temporary data dir; the median, minimum and maximum are kept. Peak
RSS is the child's own ``ru_maxrss``. Targets: ``--help`` 0.3 s, ``approvals list`` 0.6 s.
Results: ``benchmarks/results/cli_startup.json``.

    python -m benchmarks.cli_startup [--runs 10] [--root DIR]

``--root`` measures the code of another checkout (e.g. the main branch, for a before/after).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
COMMANDS: dict[str, tuple[list[str], float]] = {
    # name: (python arguments, target median in seconds)
    "--help": (["-m", "agent.cli", "--help"], 0.3),
    "approvals list": (["-m", "agent.cli", "approvals", "list"], 0.6),
}
# What no CLI can go below on this machine now: the interpreter, and typer with its rich help (which
# `--help` needs to print the same help). Measured beside the commands, as the load changes.
FLOORS: dict[str, list[str]] = {
    "python": ["-c", "pass"],
    "typer with rich help": ["-c", "import typer.main, typer.rich_utils"],
}


def run_once(args: list[str], root: Path, env: dict[str, str]) -> tuple[float, float]:
    """One fresh process: (wall seconds, peak RSS in MiB)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)  # wait4: the child's own rusage
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-500:]
            raise RuntimeError(f"`python {' '.join(args)}` exited {proc.returncode}: {tail}")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def measure(args: list[str], root: Path, runs: int, env: dict[str, str]) -> dict[str, Any]:
    run_once(args, root, env)  # warm-up: the page cache and .pyc files, not counted
    samples = [run_once(args, root, env) for _ in range(runs)]
    walls, rss = [w for w, _ in samples], [r for _, r in samples]
    return {
        "median_s": round(statistics.median(walls), 3),
        "min_s": round(min(walls), 3),
        "max_s": round(max(walls), 3),
        "median_peak_rss_mib": round(statistics.median(rss), 1),
        "max_peak_rss_mib": round(max(rss), 1),
    }


def run(root: Path, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cli-startup-") as data_dir:
        env = {**os.environ, "DEVOPS_AGENT_DATA_DIR": data_dir, "COLUMNS": "100"}
        commands = {}
        for name, (args, target) in COMMANDS.items():
            commands[name] = {**measure(args, root, runs, env), "target_s": target}
            commands[name]["within_target"] = commands[name]["median_s"] <= target
        floors = {name: measure(args, root, runs, env) for name, args in FLOORS.items()}
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "root": str(root),
        "runs": runs,
        "commands": commands,
        "floors": floors,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=10, help="timed runs per command (after one warm-up)")
    p.add_argument("--root", type=Path, default=ROOT, help="the checkout whose CLI is measured")
    p.add_argument("--out", type=Path, default=RESULTS / "cli_startup.json")
    args = p.parse_args(argv)
    result = run(args.root.resolve(), args.runs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name, row in result["commands"].items():
        print(
            f"devops-agent {name}: median {row['median_s']:.3f} s (min {row['min_s']:.3f}, max {row['max_s']:.3f}), "
            f"peak RSS {row['median_peak_rss_mib']:.0f} MiB; target {row['target_s']} s"
        )
    for name, row in result["floors"].items():
        print(f"floor, {name}: median {row['median_s']:.3f} s, peak RSS {row['median_peak_rss_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
