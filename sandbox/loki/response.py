"""Engine results → Loki's JSON response bodies.

Log entries are ``["<unix ns as string>", "line"]``; samples are ``[<unix seconds>, "<value>"]``
with the value formatted like Go's ``strconv.FormatFloat(v, 'f', -1, 64)``, as Loki does.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from sandbox.loki.engine import MatrixResult, Result, ScalarResult, Stats, StreamsResult, VectorResult


def query_response(result: Result) -> dict[str, Any]:
    """The full body of a ``query`` or ``query_range`` answer."""
    return {
        "status": "success",
        "data": {
            "resultType": result.result_type,
            "result": _result(result),
            "stats": stats_block(result.stats),
        },
    }


def _result(result: Result) -> Any:
    if isinstance(result, StreamsResult):
        return [
            {"stream": labels, "values": [[str(ts), line] for ts, line in entries]}
            for labels, entries in result.streams
        ]
    if isinstance(result, VectorResult):
        return [
            {"metric": labels, "value": [seconds(result.ts_ns), format_value(value)]}
            for labels, value in result.samples
        ]
    if isinstance(result, ScalarResult):
        return [seconds(result.ts_ns), format_value(result.value)]
    assert isinstance(result, MatrixResult)
    return [
        {"metric": labels, "values": [[seconds(ts), format_value(v)] for ts, v in points]}
        for labels, points in result.series
    ]


def seconds(ts_ns: int) -> float | int:
    """Unix seconds with millisecond precision, as Prometheus-style APIs print sample times."""
    ms = ts_ns // 1_000_000
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def format_value(value: float) -> str:
    """Go's shortest decimal form without exponent: ``1``, ``0.5``, ``0.00001``, ``NaN``, ``+Inf``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def stats_block(stats: Stats) -> dict[str, Any]:
    """A ``stats`` object shaped like Loki's (summary figures are real; the rest is zero)."""
    exec_s = stats.exec_seconds()

    def per_second(n: int) -> int:
        return int(n / exec_s) if exec_s > 0 else 0

    summary = {
        "bytesProcessedPerSecond": per_second(stats.bytes),
        "linesProcessedPerSecond": per_second(stats.lines),
        "totalBytesProcessed": stats.bytes,
        "totalLinesProcessed": stats.lines,
        "execTime": exec_s,
        "queueTime": 0,
        "subqueries": 0,
        "totalEntriesReturned": stats.entries_returned,
        "splits": 0,
        "shards": 0,
        "totalPostFilterLines": stats.post_filter_lines,
        "totalStructuredMetadataBytesProcessed": 0,
    }
    store = {
        "totalChunksRef": 0,
        "totalChunksDownloaded": 0,
        "chunksDownloadTime": 0,
        "chunk": {
            "headChunkBytes": stats.bytes,
            "headChunkLines": stats.lines,
            "decompressedBytes": 0,
            "decompressedLines": 0,
            "compressedBytes": 0,
            "totalDuplicates": 0,
        },
    }
    return {
        "summary": summary,
        "querier": {"store": store},
        "ingester": {
            "totalReached": 1,
            "totalChunksMatched": 0,
            "totalBatches": 1,
            "totalLinesSent": stats.entries_returned,
            "store": store,
        },
        "cache": {},
    }
