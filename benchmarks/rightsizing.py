"""Right-sizing against the true usage of synthetic workloads, ours and KRR's simple strategy.

Each workload is simulated minute by minute for three weeks: the first two are the history both
recommenders see (as Prometheus would: memory capped at the limit when the container was OOM
killed), the third is the truth they are judged on: the CPU request against the 95th percentile of
next week's CPU use, the memory limit against next week's peak (below it = an OOM kill).

KRR's simple strategy is re-implemented here from its documentation (README "Algorithm", and
``krr simple --help``): CPU request at a percentile of all pods' samples (95), no CPU limit, memory
request and limit at the peak plus 15%, at least 100 points. It shares no code with ours
(``tools.rightsize.model``), which it is compared with.

    python -m benchmarks.rightsizing [--out benchmarks/results/rightsizing.json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tools.rightsize.model import ContainerUsage, recommend

MI = 1024**2
MINUTES = 21 * 24 * 60
HISTORY = 14 * 24 * 60
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Workload:
    name: str
    pods: int
    cpu: np.ndarray  # (pods, minutes) cores
    memory: np.ndarray  # (pods, minutes) bytes
    memory_limit: float | None = None


def _day(t: np.ndarray) -> np.ndarray:
    return np.maximum(np.sin(2 * np.pi * (t % 1440) / 1440 - np.pi / 2), 0)


def _weekday(t: np.ndarray) -> np.ndarray:
    return np.where((t // 1440) % 7 < 5, 1.0, 0.5)


def workloads(seed: int = 7) -> list[Workload]:
    rng = np.random.default_rng(seed)
    t = np.arange(MINUTES)

    def pods(n: int, f: Callable[[int], np.ndarray]) -> np.ndarray:
        return np.stack([f(i) for i in range(n)])

    out = [
        Workload(
            "steady",
            2,
            pods(2, lambda i: np.clip(rng.normal(0.3, 0.03, MINUTES), 0, None)),
            pods(2, lambda i: 400 * MI + rng.normal(0, 5 * MI, MINUTES)),
        ),
        Workload(
            "diurnal",
            3,
            pods(3, lambda i: 0.1 + 0.5 * _day(t) * _weekday(t) + rng.normal(0, 0.02, MINUTES).clip(0)),
            pods(3, lambda i: 500 * MI + 150 * MI * _day(t) * _weekday(t) + rng.normal(0, 4 * MI, MINUTES)),
        ),
        Workload(
            "spiky",
            2,
            pods(2, lambda i: 0.1 + (rng.random(MINUTES) < 0.03) * rng.uniform(0.5, 1.5, MINUTES)),
            pods(2, lambda i: 300 * MI + (rng.random(MINUTES) < 0.001) * 250 * MI),
        ),
        Workload(
            "imbalanced",
            3,
            pods(3, lambda i: (0.1 + 0.2 * i) + rng.normal(0, 0.02, MINUTES).clip(0)),
            pods(3, lambda i: (250 + 100 * i) * MI + rng.normal(0, 3 * MI, MINUTES)),
        ),
        Workload(
            "oom-capped",
            2,
            pods(2, lambda i: 0.2 + rng.normal(0, 0.02, MINUTES).clip(0)),
            pods(2, lambda i: 650 * MI + 50 * MI * _day(t) + rng.normal(0, 5 * MI, MINUTES)),
            memory_limit=512 * MI,
        ),
        Workload(
            "growing",
            2,
            pods(
                2,
                lambda i: (
                    (0.2 + 0.3 * _day(t)) * (1 + 0.02 * t / 1440) + rng.normal(0, 0.01, MINUTES).clip(0)
                ),
            ),
            pods(2, lambda i: 300 * MI * (1 + 0.02 * t / 1440) + rng.normal(0, 3 * MI, MINUTES)),
        ),
    ]
    return out


def observed(w: Workload) -> tuple[np.ndarray, np.ndarray, bool]:
    """What Prometheus holds for the history: memory capped at the limit (the kernel kills there)."""
    cpu, mem = w.cpu[:, :HISTORY], w.memory[:, :HISTORY]
    oom = bool(w.memory_limit is not None and (mem > w.memory_limit).any())
    if w.memory_limit is not None:
        mem = np.minimum(mem, w.memory_limit)
    return cpu, mem, oom


def krr_simple(
    cpu: np.ndarray, mem: np.ndarray, percentile: float = 95, buffer: float = 0.15
) -> dict[str, Any]:
    """KRR's simple strategy from its docs: all pods' points pooled."""
    if cpu.size < 100 or mem.size < 100:
        return {"cpu_request": None, "memory_limit": None}
    return {
        "cpu_request": float(np.percentile(cpu.ravel(), percentile)),
        "memory_limit": float(mem.max()) * (1 + buffer),
    }


def ours(w: Workload, cpu: np.ndarray, mem: np.ndarray, oom: bool) -> dict[str, Any]:
    rec = recommend(
        ContainerUsage(
            namespace="bench",
            workload=w.name,
            container="app",
            replicas=w.pods,
            cpu_cores=cpu.ravel().tolist(),
            memory_bytes=mem.ravel().tolist(),
            memory_limit=w.memory_limit,
            oom_killed=oom,
        )
    )
    return {
        "cpu_request": rec.recommended.get("cpu_request"),
        "memory_limit": rec.recommended.get("memory_limit"),
    }


def _err(rec: float | None, true: float) -> float | None:
    return None if rec is None else (rec - true) / true


def run() -> dict[str, Any]:
    rows = []
    for w in workloads():
        cpu, mem, oom = observed(w)
        truth = {
            "cpu_p95": float(np.percentile(w.cpu[:, HISTORY:].ravel(), 95)),
            "memory_peak": float(w.memory[:, HISTORY:].max()),
        }
        got = {"ours": ours(w, cpu, mem, oom), "krr": krr_simple(cpu, mem)}
        row: dict[str, Any] = {
            "workload": w.name,
            "pods": w.pods,
            "oom_killed_in_history": oom,
            "truth": truth,
        }
        for who, r in got.items():
            row[who] = {
                **r,
                "cpu_error": _err(r["cpu_request"], truth["cpu_p95"]),
                "memory_error": _err(r["memory_limit"], truth["memory_peak"]),
                "memory_below_true_peak": r["memory_limit"] is not None
                and r["memory_limit"] < truth["memory_peak"],
            }
        rows.append(row)
    summary: dict[str, Any] = {}
    for who in ("ours", "krr"):
        cpu_errs = [abs(r[who]["cpu_error"]) for r in rows if r[who]["cpu_error"] is not None]
        mem_errs = [abs(r[who]["memory_error"]) for r in rows if r[who]["memory_error"] is not None]
        summary[who] = {
            "cpu_request_mean_abs_error": float(np.mean(cpu_errs)),
            "memory_limit_mean_abs_error": float(np.mean(mem_errs)),
            "workloads_oom_next_week": [r["workload"] for r in rows if r[who]["memory_below_true_peak"]],
        }
    summary["differ_from_krr"] = [
        r["workload"]
        for r in rows
        if not np.isclose(r["ours"]["memory_limit"], r["krr"]["memory_limit"])
        or not np.isclose(r["ours"]["cpu_request"], r["krr"]["cpu_request"])
    ]
    return {"history_days": 14, "judged_on_days": 7, "workloads": rows, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=RESULTS / "rightsizing.json")
    args = p.parse_args(argv)
    result = run()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for r in result["workloads"]:
        o, k = r["ours"], r["krr"]
        print(
            f"{r['workload']:>11}: cpu err ours {o['cpu_error']:+.1%} krr {k['cpu_error']:+.1%}; "
            f"memory err ours {o['memory_error']:+.1%} krr {k['memory_error']:+.1%}"
            + (" (krr: OOM next week)" if k["memory_below_true_peak"] else "")
            + (" (ours: OOM next week)" if o["memory_below_true_peak"] else "")
        )
    print(json.dumps(result["summary"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
