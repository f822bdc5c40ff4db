"""Right-sizing (KRR's semantics and where we depart) and its cost (OpenCost's model)."""

from __future__ import annotations

import numpy as np
import pytest

from tools.rightsize.cost import HOURS_PER_MONTH, Prices, by_namespace, container_cost, idle_capacity
from tools.rightsize.model import MI, ContainerUsage, recommend, set_resources_args

GI = 1024**3


def usage(cpu: list[float], mem: list[float], **kw: object) -> ContainerUsage:
    base: dict[str, object] = {"namespace": "prod", "workload": "api", "container": "api", "replicas": 2}
    return ContainerUsage(cpu_cores=cpu, memory_bytes=mem, **{**base, **kw})  # type: ignore[arg-type]


def test_cpu_at_p95_memory_at_peak_plus_15_percent() -> None:
    cpu = list(np.linspace(0.1, 1.0, 200))
    mem = [300 * MI] * 199 + [400 * MI]
    rec = recommend(usage(cpu, mem))
    assert rec.status == "ok"
    assert rec.recommended["cpu_request"] == pytest.approx(np.percentile(cpu, 95))
    assert rec.recommended["memory_request"] == rec.recommended["memory_limit"] == pytest.approx(460 * MI)
    assert rec.recommended["cpu_limit"] == pytest.approx(1.2)  # our departure: peak x 1.2, KRR sets none
    assert recommend(usage(cpu, mem), cpu_limit="unset").recommended["cpu_limit"] is None
    assert set_resources_args(rec) == {
        "deployment": "api",
        "namespace": "prod",
        "container": "api",
        "cpu_request": "955m",
        "cpu_limit": "1200m",
        "memory_request": "460Mi",
        "memory_limit": "460Mi",
    }


def test_not_enough_data_says_how_much_it_had() -> None:
    rec = recommend(usage([0.1] * 99, [100.0] * 150))
    assert rec.status == "not_enough_data" and rec.recommended == {}
    assert rec.reason == "not enough data: cpu has 99 points, 100 needed"


def test_floors_and_nan_samples() -> None:
    rec = recommend(usage([0.0001] * 120 + [float("nan")] * 5, [1 * MI] * 120))
    assert rec.points == {"cpu": 120, "memory": 120}
    assert rec.recommended["cpu_request"] == 0.010 and rec.recommended["memory_request"] == 100 * MI


def test_oom_killed_memory_starts_above_the_limit_it_was_capped_at() -> None:
    capped = [512 * MI] * 150  # the working set never shows more than the limit it was killed at
    rec = recommend(usage([0.2] * 150, capped, memory_limit=512 * MI, oom_killed=True))
    assert rec.recommended["memory_limit"] == pytest.approx(768 * MI)  # 1.5 x the limit, not 1.15 x
    assert "OOMKilled" in rec.notes[0]


def test_cost_waste_and_savings() -> None:
    u = usage([0.25] * 150, [256 * MI] * 150, cpu_request=1.0, memory_request=1 * GI)
    rec = recommend(u)
    c = container_cost(u, Prices(cpu_hour=0.04, gib_hour=0.01), rec)
    month = HOURS_PER_MONTH * 2
    assert c.monthly == pytest.approx((1.0 * 0.04 + 1.0 * 0.01) * month)
    assert c.wasted_monthly == pytest.approx((0.75 * 0.04 + 0.75 * 0.01) * month)
    assert c.recommended_monthly == pytest.approx((0.25 * 0.04 + 256 * 1.15 / 1024 * 0.01) * month)
    assert c.savings_monthly == pytest.approx(c.monthly - c.recommended_monthly)
    totals = by_namespace([c, c])
    assert totals["prod"]["savings_monthly"] == pytest.approx(2 * c.savings_monthly)


def test_usage_above_the_request_is_priced_at_use_and_idle_capacity() -> None:
    u = usage([2.0] * 150, [1 * GI] * 150, cpu_request=0.5, memory_request=512 * MI)
    c = container_cost(u, Prices(cpu_hour=0.04, gib_hour=0.01))
    assert c.monthly == pytest.approx((2.0 * 0.04 + 1.0 * 0.01) * HOURS_PER_MONTH * 2)
    assert c.wasted_monthly == 0
    idle = idle_capacity({"cpu": 8, "memory": 16 * GI}, {"cpu": 3, "memory": 4 * GI}, Prices(0.04, 0.01))
    assert idle == pytest.approx(
        {"cpu": 5, "memory": 12 * GI, "monthly": (5 * 0.04 + 12 * 0.01) * HOURS_PER_MONTH}
    )
