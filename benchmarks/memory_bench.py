"""Memory benchmark: insert rate and recall latency (p50/p95) at 1k, 10k and 100k stored incidents.

Run: ``.venv/bin/python -m benchmarks.memory_bench [--sizes 1000,10000,100000] [--queries 100]
[--repeats 3] [--store DIR]``. Writes ``benchmarks/results/memory.json``. Each size is its own store
of seeded synthetic incidents (``knowledge.synthetic``), inserted in batches with the default offline
embedder; ``--store`` keeps the stores and reuses them next time (a 100k build takes minutes).

Recall is the full hybrid recall the agent runs (service and alert name given, k=3) on a warm store,
timed two ways on the same store, query by query in turn: ``indexed`` (the default with a data dir:
nearest neighbours + the side index, :mod:`knowledge.exact_recall`) and ``chroma_only`` (Chroma's
metadata-filtered query, the path against a Chroma server and the only one before the index). Each
repeat runs every query on both; the figures are the medians over the repeats of each repeat's
p50 and p95. Latencies are wall-clock on a shared machine: compare runs on one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from knowledge.embeddings import HashingEmbedder
from knowledge.memory import IncidentMemory
from knowledge.synthetic import synthetic_incident, synthetic_incidents

RESULTS = Path(__file__).parent / "results" / "memory.json"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _grow(memory: IncidentMemory, start: int, stop: int, batch: int) -> float:
    """Insert incidents start..stop-1; returns records per second (embedding included)."""
    import random

    rng = random.Random(start)
    began = time.perf_counter()
    for lo in range(start, stop, batch):
        records = [synthetic_incident(rng, i, now=NOW) for i in range(lo, min(stop, lo + batch))]
        memory.remember_many(records, batch=batch)
    return (stop - start) / (time.perf_counter() - began)


def _compare(memories: dict[str, IncidentMemory], queries: int, repeats: int) -> dict[str, Any]:
    """Time every query on each path in turn; medians over repeats of p50 and p95 per path."""
    probes = synthetic_incidents(queries, seed=999, now=NOW)
    for memory in memories.values():
        memory.recall(probes[0].search_text(), now=NOW)  # warm-up (and the index, if it is missing)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in memories}
    fetched: list[int] = []
    same = 0
    for _ in range(repeats):
        lat: dict[str, list[float]] = {name: [] for name in memories}
        for i, p in enumerate(probes):
            tops = []
            order = list(memories.items())
            for name, memory in order if i % 2 else order[::-1]:  # neither path always goes first
                began = time.perf_counter()
                hits = memory.recall(p.symptoms[0], service=p.service, alertname=p.alertname, k=3, now=NOW)
                lat[name].append((time.perf_counter() - began) * 1000.0)
                tops.append([h.id for h in hits])
                if memory.last_trace is not None:
                    fetched.append(memory.last_trace.fetched)
            same += len({tuple(t) for t in tops}) == 1
        for name, values in lat.items():
            runs[name].append((statistics.median(values), _percentile(values, 0.95)))
    out: dict[str, Any] = {
        name: {
            "recall_p50_ms": round(statistics.median(r[0] for r in rs), 2),
            "recall_p95_ms": round(statistics.median(r[1] for r in rs), 2),
        }
        for name, rs in runs.items()
    }
    out["same_top3_share"] = round(same / (queries * repeats), 3)
    if fetched:
        out["indexed_vectors_fetched"] = {"median": statistics.median(fetched), "max": max(fetched)}
    return out


def _store(root: Path, size: int, batch: int) -> tuple[Path, float | None]:
    """The data dir of a memory holding ``size`` incidents under ``root``: reused when complete."""
    path = root / f"incidents-{size}"
    memory = IncidentMemory.open(path, None, HashingEmbedder(1024))
    stored = memory.count()
    if stored == size:
        return path, None
    if stored:
        raise SystemExit(f"{path} holds {stored} incidents, not {size}; delete it to rebuild")
    return path, _grow(memory, 0, size, batch)


def run(
    sizes: list[int], queries: int, batch: int, out: Path, keep: Path | None = None, repeats: int = 3
) -> dict[str, Any]:
    root = keep or Path(tempfile.mkdtemp(prefix="memory-bench-"))
    rows: list[dict[str, Any]] = []
    try:
        for size in sorted(sizes):
            path, rate = _store(root, size, batch)
            memories = {
                "indexed": IncidentMemory.open(path, None, HashingEmbedder(1024)),
                "chroma_only": IncidentMemory.open(path, None, HashingEmbedder(1024), side_index=False),
            }
            compared = _compare(memories, queries, repeats)
            row = {
                "incidents": memories["indexed"].count(),
                "insert_per_s": None if rate is None else round(rate, 1),
                **compared["indexed"],
                **compared,
                "queries": queries,
                "repeats": repeats,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            _write(out, rows, batch)
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return _write(out, rows, batch)


def _write(out: Path, rows: list[dict[str, Any]], batch: int) -> dict[str, Any]:
    doc = {
        "benchmark": "memory",
        "embedder": "hashing-1024",
        "store": "chromadb PersistentClient (HNSW, cosine) + recall side index (SQLite)",
        "figures": "medians over repeats of each repeat's p50 and p95, on a shared 2-core machine",
        "insert_batch": batch,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000,100000", help="Comma-separated store sizes.")
    parser.add_argument("--queries", type=int, default=100, help="Recall queries per size.")
    parser.add_argument("--batch", type=int, default=2000, help="Records per insert batch.")
    parser.add_argument("--repeats", type=int, default=3, help="Times every query runs on each path.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--store",
        type=Path,
        help="Keep the stores in this dir (one per size) and reuse them on the next run.",
    )
    args = parser.parse_args()
    run([int(s) for s in args.sizes.split(",")], args.queries, args.batch, args.out, args.store, args.repeats)


if __name__ == "__main__":
    main()
