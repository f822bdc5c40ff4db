"""Drive an interactive program through a pseudo-terminal, as a user at a keyboard would.

Stdlib only (``pty.fork``): the child gets the pty as its controlling terminal, so Ctrl-C typed as
``\\x03`` reaches it as SIGINT exactly as from a real terminal. ``expect`` waits for text in the
output (ANSI escapes stripped); its timeout only bounds a failure, it never asserts on timing.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import time
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\r")


class PtySession:
    """One program on a pty; ``output`` holds everything it printed so far (cleaned)."""

    def __init__(
        self, argv: list[str], env: dict[str, str], cwd: Path | None = None, columns: int = 200
    ) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: a wide terminal (no wrapped lines), then become the program
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
            if cwd is not None:
                os.chdir(cwd)
            os.execve(argv[0], argv, env)
        self.pid, self.fd = pid, fd
        self.output = ""
        self._seen = 0
        self.status: int | None = None

    def _read(self, wait_s: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], wait_s)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal (it exited)
            return False
        if not data:
            return False
        self.output += ANSI.sub("", data.decode("utf-8", "replace"))
        return True

    def expect(self, text: str, timeout_s: float = 90.0) -> str:
        """Wait until ``text`` appears after what earlier calls consumed; returns the output up to it."""
        deadline = time.monotonic() + timeout_s
        while True:
            at = self.output.find(text, self._seen)
            if at >= 0:
                chunk = self.output[self._seen : at + len(text)]
                self._seen = at + len(text)
                return chunk
            if time.monotonic() > deadline or not self._read(0.2):
                tail = self.output[-3000:]
                raise AssertionError(
                    f"{text!r} did not appear; the program printed (last 3000 chars):\n{tail}"
                )

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def line(self, text: str) -> None:
        self.send(text + "\r")

    def wait(self, timeout_s: float = 60.0) -> int:
        """Wait for the program to exit (draining its output); returns its exit code."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
            self._read(0.2)
        raise AssertionError(f"the program did not exit; it printed:\n{self.output[-3000:]}")

    def close(self) -> None:
        """Kill the program if it still runs (a failed test), and close the terminal."""
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)
