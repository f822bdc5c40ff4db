"""A reset puts objects back as seeded, history included: the next scenario must not see the previous
scenario's fault (or the reset itself) as a fresh change an operator made."""

from __future__ import annotations

import copy

from sandbox.kube.api import KubeApi
from sandbox.kube.resources import lookup
from sandbox.kube.store import Store
from sandbox.platform import seed
from sandbox.server import reapply_seed


def _last_write(obj: dict) -> str:
    return max(m["time"] for m in obj["metadata"]["managedFields"])


def test_reset_restores_data_and_seeded_history() -> None:
    store = Store()
    seed(store)
    seeded = copy.deepcopy(store.get("configmaps", "market-predictor", "predictor-config"))
    api = KubeApi(store)
    configmaps = lookup("", "v1", "configmaps")
    assert configmaps is not None
    api.patch(
        configmaps,
        "market-predictor",
        "predictor-config",
        "application/merge-patch+json",
        {"data": {"WORKERS": "64"}},
        manager="kubectl-patch",
    )
    broken = store.get("configmaps", "market-predictor", "predictor-config")
    assert broken["data"]["WORKERS"] == "64" and _last_write(broken) > _last_write(seeded)

    counts = reapply_seed(store)
    restored = store.get("configmaps", "market-predictor", "predictor-config")
    assert counts["updated"] >= 1
    assert restored["data"] == seeded["data"]
    assert _last_write(restored) == _last_write(seeded)


def test_reset_of_an_untouched_cluster_changes_nothing() -> None:
    store = Store()
    seed(store)
    assert reapply_seed(store) == {"created": 0, "updated": 0, "deleted": 0}
