"""`serve` on either backend: two services (two workers) on one database share the queue, each
alert group is investigated once, and a worker's lease is renewed while it works."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from stores.conftest import Backend
from unit.test_serve_webhook import ScriptedRunner, payload

from agent.server.alerts import parse_payload
from agent.server.service import Service
from agent.settings import Settings

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


def _wait(cond: Callable[[], object], timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _settings(backend: Backend, **kw: object) -> Settings:
    return Settings(data_dir=backend.data_dir, database_url=backend.url, **kw)  # type: ignore[arg-type]


class _SlowRunner(ScriptedRunner):
    """Each investigation takes a moment, as a real one does, so one worker cannot drain the queue
    alone before the other has looked (seen on a loaded CI machine)."""

    def investigate(self, **kw: object) -> dict[str, object]:
        time.sleep(0.2)
        return super().investigate(**kw)  # type: ignore[arg-type]


def test_two_workers_on_one_database_investigate_each_group_once(backend: Backend) -> None:
    runners = [_SlowRunner(), _SlowRunner()]
    services = [Service(_settings(backend, correlate_window_s=0), r) for r in runners]
    for s in services:
        s.start()
    try:
        ids = {
            services[i % 2].queue.ingest(parse_payload(payload(group=f"g{i}", alerts=None))).incident_id
            for i in range(12)
        }
        _wait(lambda: sum(len(r.investigations) for r in runners) >= 12)
        time.sleep(1)  # a second investigation of any group would show up now
    finally:
        for s in services:
            s.stop()
    investigated = [t for r in runners for t, _ in r.investigations]
    assert sorted(investigated) == sorted(ids)
    assert all(r.investigations for r in runners)  # both workers took part


def test_a_long_investigation_keeps_its_lease(backend: Backend) -> None:
    gate = threading.Event()
    runner = ScriptedRunner(block=gate)
    service = Service(_settings(backend, work_lease_s=1), runner)
    service.start()
    other = Service(_settings(backend, work_lease_s=1), ScriptedRunner())
    try:
        res = service.queue.ingest(parse_payload(payload()))
        _wait(lambda: runner.investigations)
        time.sleep(2.5)  # past two lease lengths: only renewals keep it
        assert other.queue.claim() is None
        gate.set()
        _wait(lambda: service.queue.work_items(res.incident_id)[0]["state"] == "done")
    finally:
        gate.set()
        service.stop()
