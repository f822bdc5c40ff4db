"""End-to-end fixtures: the sandbox's Kubernetes API stand-in over a seeded store, and the fake LLM.

No Prometheus here (tests that need it are marked ``sandbox``): Prometheus and Loki URLs point at a
closed loopback port, so those tools answer with clear errors and the run goes on.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAI

from sandbox.kube.kubeconfig import write_kubeconfig
from sandbox.kube.server import start_kube_api
from sandbox.kube.store import Store
from sandbox.sim.testing import SimCluster

ENV_PASSWORD = "hunter2-e2e-literal-pass"
NAMESPACE = "market-predictor"


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


BAD_IMAGE = "registry.local/market-predictor/predictor:1.5.0"


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


def agent_env(tmp_path: Path, kubeconfig: Path, llm: FakeOpenAI) -> dict[str, str]:
    """The environment a devops-agent process needs to reach this test's cluster and model."""
    dead = f"http://127.0.0.1:{closed_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVOPS_AGENT_", "OPENAI_"))}
    env.update(
        {
            "DEVOPS_AGENT_DATA_DIR": str(tmp_path / "data"),
            "DEVOPS_AGENT_KUBECONFIG": str(kubeconfig),
            "DEVOPS_AGENT_PROMETHEUS_URL": dead,
            "DEVOPS_AGENT_LOKI_URL": dead,
            "DEVOPS_AGENT_ALERTMANAGER_URL": dead,
            "DEVOPS_AGENT_LLM_BASE_URL": llm.base_url,
            "DEVOPS_AGENT_LLM_MODEL": "fake-model",
            "DEVOPS_AGENT_LLM_MAX_RETRIES": "0",
            "DEVOPS_AGENT_VERIFY_TIMEOUT_S": "0",
            "DEVOPS_AGENT_VERIFY_INTERVAL_S": "0",
            "DEVOPS_AGENT_DEFAULT_NAMESPACE": NAMESPACE,
            "DEVOPS_AGENT_HTTP_TIMEOUT_S": "2",
            "COLUMNS": "250",
        }
    )
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli", *args]
