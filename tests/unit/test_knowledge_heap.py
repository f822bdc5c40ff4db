"""Index files carry no stale heap: the campaign found a literal DB_PASSWORD, freed by the HTTP
layer, inside Chroma's ``data_level0.bin`` (chroma-hnswlib writes its whole malloc'd buffer, unused
slots too). ``knowledge.heap.scrub_heap`` (glibc's M_PERTURB) fills allocations with a constant.

The child makes the leak deterministic: big blocks come from the heap, nothing is trimmed and every
thread shares one arena, so Chroma's buffer lands where the secret-bearing documents were freed.
The control run (scrubbing off) must leak, or the test would prove nothing.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="M_PERTURB is glibc's"
)

CHILD = textwrap.dedent(
    """
    import ctypes, json, pathlib, sys
    from datetime import datetime, timezone
    libc = ctypes.CDLL(None)
    libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
    libc.mallopt(-8, 1)  # M_ARENA_MAX
    import knowledge.heap
    if sys.argv[2] == "off":
        knowledge.heap._state["on"] = False
    from knowledge.embeddings import HashingEmbedder
    from knowledge.memory import IncidentMemory
    from knowledge.synthetic import synthetic_incidents
    docs = [json.dumps([{"name": "DB_PASSWORD", "value": f"STALE-HEAP-{i:04d}"}] * 20000) for i in range(40)]
    del docs
    mem = IncidentMemory.open(pathlib.Path(sys.argv[1]), None, HashingEmbedder(1024))
    mem.remember_many(synthetic_incidents(3, now=datetime.now(timezone.utc)))
    """
)


def _files_with_stale_heap(tmp_path: Path, scrub: str) -> list[str]:
    data = tmp_path / scrub
    subprocess.run([sys.executable, "-c", CHILD, str(data), scrub], check=True, timeout=120)
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name == "data_level0.bin" for p in files), files
    return [p.name for p in files if b"STALE-HEAP-" in p.read_bytes()]


def test_without_scrubbing_the_index_file_carries_freed_documents(tmp_path):
    assert _files_with_stale_heap(tmp_path, "off") != []


def test_memory_files_carry_no_freed_documents(tmp_path):
    assert _files_with_stale_heap(tmp_path, "on") == []
