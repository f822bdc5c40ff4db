"""Memory benchmark: insert rate and recall latency (p50/p95) at 1k, 10k and 100k stored incidents.

Run: ``.venv/bin/python -m benchmarks.memory_bench [--sizes 1000,10000,100000] [--queries 100]``.
Writes ``benchmarks/results/memory.json``. The store grows in place (1k, then +9k, then +90k), with
batched inserts of seeded synthetic incidents (``knowledge.synthetic``) and the default offline
embedder; recall is the full hybrid recall the agent runs (vector query, metadata-filtered query,
scoring), with a service and an alert name, measured on a warm store. Latencies are wall-clock on
whatever machine runs it: compare runs on one machine, not across machines.
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


def _recall_latencies(memory: IncidentMemory, queries: int) -> list[float]:
    probes = synthetic_incidents(queries, seed=999, now=NOW)
    memory.recall(probes[0].search_text(), now=NOW)  # warm-up
    out = []
    for p in probes:
        began = time.perf_counter()
        memory.recall(p.symptoms[0], service=p.service, alertname=p.alertname, k=3, now=NOW)
        out.append((time.perf_counter() - began) * 1000.0)
    return out


def _store(root: Path, size: int, batch: int) -> tuple[IncidentMemory, float | None]:
    """The memory holding ``size`` incidents under ``root``: reused when complete, else built."""
    path = root / f"incidents-{size}"
    memory = IncidentMemory.open(path, None, HashingEmbedder(1024))
    stored = memory.count()
    if stored == size:
        return memory, None
    if stored:
        raise SystemExit(f"{path} holds {stored} incidents, not {size}; delete it to rebuild")
    return memory, _grow(memory, 0, size, batch)


def run(sizes: list[int], queries: int, batch: int, out: Path, keep: Path | None = None) -> dict[str, Any]:
    root = keep or Path(tempfile.mkdtemp(prefix="memory-bench-"))
    rows: list[dict[str, Any]] = []
    try:
        for size in sorted(sizes):
            memory, rate = _store(root, size, batch)
            lat = _recall_latencies(memory, queries)
            row = {
                "incidents": memory.count(),
                "insert_per_s": None if rate is None else round(rate, 1),
                "recall_p50_ms": round(statistics.median(lat), 2),
                "recall_p95_ms": round(_percentile(lat, 0.95), 2),
                "queries": queries,
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
        "store": "chromadb PersistentClient (HNSW, cosine)",
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
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--store",
        type=Path,
        help="Keep the stores in this dir (one per size) and reuse them on the next run.",
    )
    args = parser.parse_args()
    run([int(s) for s in args.sizes.split(",")], args.queries, args.batch, args.out, args.store)


if __name__ == "__main__":
    main()
