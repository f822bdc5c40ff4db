"""The no-fault control: baseline traffic with its noise fires no alert and passes its check.

Pending alerts are allowed (the HPA scaling a pod in on noise makes it briefly not ready); firing
ones are not.

Named to sort before the fault tests, so it usually runs on a fresh sandbox.
"""

from __future__ import annotations

import time

import pytest
from sandbox_fixture import Sandbox

from sandbox.faults import get_fault

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(300)]
OBSERVE_S = 60
FIRING = 'ALERTS{alertstate="firing"}'


def test_baseline_raises_no_alert(sandbox: Sandbox) -> None:
    sandbox.reset()
    # Alerts left by earlier tests resolve first; a sandbox that never goes quiet fails here.
    sandbox.wait_until(lambda: not sandbox.prom_query(FIRING), 150, "no alert firing")
    seen: set[str] = set()
    deadline = time.monotonic() + OBSERVE_S
    while time.monotonic() < deadline:
        seen |= {a["metric"]["alertname"] for a in sandbox.prom_query(FIRING)}
        time.sleep(1)
    assert not seen, f"alerts fired without any fault: {sorted(seen)}"
    ok, detail = get_fault("none").check_end_state(sandbox.api_client(), sandbox.prometheus_url)
    assert ok, detail
