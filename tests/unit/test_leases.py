"""Whose lease is dead: `WorkQueue.recover` hands back at once only what a gone worker held."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from agent.server.leases import new_owner, worker_gone

LATER = "2999-01-01T00:00:00.000+00:00"
NOW = "2026-01-01T00:00:00.000+00:00"


def test_an_expired_or_missing_lease_is_gone() -> None:
    me = new_owner()
    assert worker_gone("elsewhere/1/x", "2025-12-31T23:59:59.000+00:00", NOW, me)
    assert worker_gone(None, LATER, NOW, me) and worker_gone("elsewhere/1/x", None, NOW, me)


def test_a_live_lease_on_another_machine_is_left_alone() -> None:
    assert not worker_gone("another-host/1/abcd", LATER, NOW, new_owner())


def test_this_queue_keeps_its_own_and_an_earlier_queue_of_this_process_is_gone() -> None:
    me, earlier = new_owner(), new_owner()
    assert not worker_gone(me, LATER, NOW, me)
    assert worker_gone(earlier, LATER, NOW, me)


def test_a_dead_or_zombie_process_of_this_host_is_gone_a_live_one_is_not() -> None:
    host = socket.gethostname()
    child = subprocess.Popen(["true"])
    stat = Path(f"/proc/{child.pid}/stat")
    for _ in range(200):  # until it exited; not reaped yet, it is a zombie
        if stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z":
            break
        time.sleep(0.05)
    assert worker_gone(f"{host}/{child.pid}/z", LATER, NOW, new_owner())
    child.wait()
    assert worker_gone(f"{host}/{child.pid}/z", LATER, NOW, new_owner())
    parent = os.getppid()
    assert not worker_gone(f"{host}/{parent}/p", LATER, NOW, new_owner())
