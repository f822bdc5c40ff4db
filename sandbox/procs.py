"""Processes the sandbox starts: finding binaries, free ports, spawning, and stopping by pid.

``stop_pid`` only signals a pid whose command line still names the program it started, so a pid
reused by another program is never killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

HOST = "127.0.0.1"
INSTALL_HINT = (
    "install it with `sudo apt-get install prometheus prometheus-alertmanager` (or run `make setup`)"
)


class SandboxError(RuntimeError):
    """The sandbox could not be started, reached or stopped; the message says what to do."""


def find_binary(*names: str) -> str:
    """The path of the first of ``names`` on PATH (or in /usr/bin), else a SandboxError saying how to install."""
    for name in names:
        found = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
        if found:
            return found
    raise SandboxError(f"{names[0]} not found on PATH: {INSTALL_HINT}")


def free_port(host: str = HOST) -> int:
    """A free TCP port on loopback (bound and released; the caller binds it right away)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# --- processes --------------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone; it is reaped when it is our child)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stop_pid(pid: int, expect: str, grace_s: float = 10.0) -> bool:
    """SIGTERM ``pid`` (only if its command line contains ``expect``), SIGKILL after ``grace_s``.

    Returns True when a process was stopped. A pid that is gone, or reused by another program, is
    left alone.
    """
    if not pid_alive(pid) or expect not in _cmdline(pid):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    for _ in range(50):
        if not pid_alive(pid):
            break
        time.sleep(0.1)
    return True


def spawn(argv: list[str], log_path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the CLI; `sandbox down` stops it by pid
        )


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# Which command-line fragment identifies each part, so `down` never kills a reused pid.
EXPECT = {"server": "sandbox.server", "prometheus": "prometheus", "alertmanager": "alertmanager"}
