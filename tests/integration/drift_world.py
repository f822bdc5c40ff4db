"""The seeded sandbox platform behind the API stand-in, with its manifests as the desired state."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox import platform
from sandbox.desired import MANIFESTS_DIR
from sandbox.kube import KubeApiServer, start_kube_api, write_kubeconfig
from sandbox.kube.store import Store
from tools.deps import Deps

NS = platform.PRODUCTION


@dataclass
class Platform:
    store: Store
    server: KubeApiServer
    kubeconfig: Path
    manifests: Path  # a copy the test may edit
    deps: Deps

    def edit(self, path: str, patch: dict[str, Any], manager: str = "kubectl-edit") -> None:
        """A hand edit as ``kubectl edit`` sends it (a strategic merge patch recorded under ``manager``)."""
        httpx.patch(
            self.server.url + path,
            params={"fieldManager": manager},
            content=json.dumps(patch),
            headers={"Content-Type": "application/strategic-merge-patch+json"},
            timeout=10,
        ).raise_for_status()


@pytest.fixture(name="plat")
def plat_fixture(tmp_path: Path) -> Iterator[Platform]:
    store = Store()
    platform.seed(store)
    server = start_kube_api(store)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url)
    manifests = tmp_path / "manifests"
    shutil.copytree(MANIFESTS_DIR, manifests)
    deps = Deps(
        kubeconfig=kubeconfig, desired_state=manifests, default_namespace=NS, raw_dir=tmp_path / "raw"
    )
    try:
        yield Platform(store, server, kubeconfig, manifests, deps)
    finally:
        server.shutdown()
