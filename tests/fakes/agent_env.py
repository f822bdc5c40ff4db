"""The environment of a devops-agent process in end-to-end tests (shared by tests/e2e)."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from fakes.openai_server import FakeOpenAI

ENV_PASSWORD = "hunter2-e2e-literal-pass"
NAMESPACE = "market-predictor"
BAD_IMAGE = "registry.local/market-predictor/predictor:1.5.0"


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def offline_values(tmp_path: Path, kubeconfig: Path) -> dict[str, str]:
    """Settings (field name: value) for this test's cluster, without a model: Prometheus, Loki and
    Alertmanager at a closed port (those tools answer with clear errors), verification not waited for."""
    dead = f"http://127.0.0.1:{closed_port()}"
    return {
        "data_dir": str(tmp_path / "data"),
        "kubeconfig": str(kubeconfig),
        "prometheus_url": dead,
        "loki_url": dead,
        "alertmanager_url": dead,
        "verify_timeout_s": "0",
        "verify_interval_s": "0",
        "default_namespace": NAMESPACE,
        "http_timeout_s": "2",
    }


def agent_env(tmp_path: Path, kubeconfig: Path, llm: FakeOpenAI) -> dict[str, str]:
    """The environment a devops-agent process needs to reach this test's cluster and model."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVOPS_AGENT_", "OPENAI_"))}
    env.update({f"DEVOPS_AGENT_{k.upper()}": v for k, v in offline_values(tmp_path, kubeconfig).items()})
    env.update(
        {
            "DEVOPS_AGENT_LLM_BASE_URL": llm.base_url,
            "DEVOPS_AGENT_LLM_MODEL": "fake-model",
            "DEVOPS_AGENT_LLM_MAX_RETRIES": "0",
            "COLUMNS": "250",
        }
    )
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli", *args]
