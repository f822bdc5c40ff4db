"""End-to-end fixtures: the sandbox's Kubernetes API stand-in over a seeded store, and the fake LLM.

No Prometheus here (tests that need it are marked ``sandbox``): Prometheus and Loki URLs point at a
closed loopback port, so those tools answer with clear errors and the run goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.agent_env import BAD_IMAGE, ENV_PASSWORD, NAMESPACE
from fakes.openai_server import FakeOpenAI

from sandbox.kube.kubeconfig import write_kubeconfig
from sandbox.kube.server import start_kube_api
from sandbox.kube.store import Store
from sandbox.sim.testing import SimCluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Store, Path]]:
    """A settled simulated cluster where predictor just rolled out a bad image (revision 2) that
    also carries a literal password in an env value (bad practice, but real)."""
    sim = SimCluster.seeded(settle_s=10)

    def bad_deploy(dep: dict) -> None:
        container = dep["spec"]["template"]["spec"]["containers"][0]
        container["image"] = BAD_IMAGE
        container.setdefault("env", []).append({"name": "DB_PASSWORD", "value": ENV_PASSWORD})

    sim.store.mutate("deployments", NAMESPACE, "predictor", bad_deploy)
    sim.run(5)
    store = sim.store
    server = start_kube_api(store)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url)
    try:
        yield store, kubeconfig
    finally:
        server.shutdown()


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server
