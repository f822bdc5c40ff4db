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
