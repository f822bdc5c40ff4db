"""Who holds a claimed work item, and whether that worker is gone (``WorkQueue.recover``).

An owner id is ``host/pid/nonce``: the nonce tells two queues of one process apart (a Service
restarted in the same process, as tests do), host and pid let a worker that restarts on the same
machine take back at once what its dead predecessor held instead of waiting out the lease. A lease
held on another machine is only ever taken over when it runs out.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path


def new_owner() -> str:
    """An owner id for one queue object of this process."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def worker_gone(owner: str | None, expires: str | None, now: str, me: str) -> bool:
    """Whether the worker holding a running item is gone: its lease ran out, or it was a process of
    this host that no longer runs, or an earlier queue of this very process."""
    if not owner or not expires or expires < now:
        return True
    o_host, _, rest = owner.partition("/")
    o_pid = rest.partition("/")[0]
    if o_host != socket.gethostname() or not o_pid.isdigit():
        return False  # another machine: its lease decides
    if int(o_pid) == os.getpid():
        return owner != me
    return not _alive(int(o_pid))


def _alive(pid: int) -> bool:
    """The process runs (a zombie, killed but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): trust the signal
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
