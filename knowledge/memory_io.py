"""Memory export files: one JSON line per incident record, after a header line.

``devops-agent knowledge export`` writes them and ``knowledge import`` reads them back, so a memory
can move between embedders, machines or a local store and a Chroma server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from knowledge.incident_store import MemoryStoreError
from knowledge.records import IncidentRecord


def write_export(path: Path, records: Iterable[IncidentRecord], embedder: str, schema: int) -> int:
    """Write the records (atomically: a temp file, then a rename); returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        header = {"kind": "devops-agent-memory", "schema": schema, "embedder": embedder}
        fh.write(json.dumps(header) + "\n")
        for record in records:
            fh.write(json.dumps({"kind": "incident", "record": record.model_dump(mode="json")}) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def read_export(path: Path) -> list[IncidentRecord]:
    """The records of an export file; a line that is not one names the file and line."""
    records: list[IncidentRecord] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if row.get("kind") == "incident":
                    records.append(IncidentRecord.model_validate(row["record"]))
            except Exception as exc:
                raise MemoryStoreError(
                    f"{path}:{lineno}: not a memory export line ({type(exc).__name__}: {exc}); "
                    "import only files written by `devops-agent knowledge export`"
                ) from exc
    return records
