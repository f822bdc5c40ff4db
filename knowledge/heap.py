"""Keep stale heap out of files: ask glibc to overwrite memory as it is allocated and freed.

Chroma's HNSW index (chroma-hnswlib) allocates its vector buffer for a whole block of slots with
``malloc`` and writes the entire buffer to ``data_level0.bin``, used slots or not. Memory that
``malloc`` hands back is not cleared, so the unused slots hold whatever the process freed there
before: the campaign found a Deployment's JSON, a literal ``DB_PASSWORD`` value in it, in an index
file (docs/campaign.md). The agent's process reads such objects all day; redaction happens before
text reaches the model or a log, not in the HTTP client's buffers.

glibc's ``M_PERTURB`` (the ``MALLOC_PERTURB_`` setting, turned on at run time) fills every block
``malloc`` returns with a constant byte and every block ``free`` takes back with another, so neither a
file written from uninitialised memory nor a core dump carries freed data. Small Python objects live in
CPython's own arenas and are not written out by C code; the large buffers (HTTP bodies, JSON
documents) go through ``malloc`` and are covered.

Elsewhere than glibc (musl, macOS) :func:`scrub_heap` does nothing and says so: there, run the agent
with the platform's own setting (macOS: ``MallocScribble=1``).
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

M_PERTURB = -6  # glibc <malloc.h>
PERTURB_BYTE = 0x5A  # freed memory reads 0x5A, freshly allocated memory 0xA5

_state: dict[str, bool] = {}


def scrub_heap() -> bool:
    """Turn on glibc's malloc perturbation for this process (idempotent); True when it is on."""
    if "on" in _state:
        return _state["on"]
    on = False
    if sys.platform.startswith("linux"):
        try:
            mallopt = ctypes.CDLL(None).mallopt
        except (OSError, AttributeError):
            mallopt = None
        if mallopt is not None:
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            on = bool(mallopt(M_PERTURB, PERTURB_BYTE))
    if not on:
        log.info(
            "heap scrubbing is not available on this C library; freed memory may reach index files "
            "written from uninitialised buffers (on macOS set MallocScribble=1)"
        )
    _state["on"] = on
    return on
