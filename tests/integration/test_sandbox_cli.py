"""`devops-agent sandbox up / status --json / env / down` through the real CLI, leaving nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import lifecycle

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(240)]


def _cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "sandbox", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_up_status_env_down_leaves_no_process(tmp_path: Path) -> None:
    directory = tmp_path / "sb"
    try:
        up = _cli("up", "--dir", str(directory))
        assert up.returncode == 0, up.stderr + up.stdout
        assert "prometheus" in up.stdout and "kubeconfig" in up.stdout

        status = _cli("status", "--dir", str(directory), "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["healthy"] is True
        for key in ("kubeconfig", "prometheus_url", "alertmanager_url", "loki_url"):
            assert report[key], key
        assert Path(report["kubeconfig"]).exists()
        pids = report["pids"]
        assert set(pids) == {"server", "prometheus", "alertmanager"}
        assert all(lifecycle.pid_alive(pid) for pid in pids.values())

        env = _cli("env", "--dir", str(directory))
        lines = dict(line.removeprefix("export ").split("=", 1) for line in env.stdout.splitlines())
        assert lines["DEVOPS_AGENT_PROMETHEUS_URL"] == report["prometheus_url"]
        assert lines["DEVOPS_AGENT_KUBECONFIG"] == report["kubeconfig"]
        assert lines["DEVOPS_AGENT_DEFAULT_NAMESPACE"] == "market-predictor"

        kubectl = subprocess.run(
            ["kubectl", "--kubeconfig", report["kubeconfig"], "get", "deployments", "-n", "market-predictor"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "api-gateway" in kubectl.stdout, kubectl.stderr

        down = _cli("down", "--dir", str(directory))
        assert down.returncode == 0, down.stderr
        assert not any(lifecycle.pid_alive(pid) for pid in pids.values()), "a sandbox process survived down"
        again = _cli("down", "--dir", str(directory))
        assert again.returncode == 0 and "no sandbox process" in again.stdout
        gone = _cli("status", "--dir", str(directory), "--json")
        assert gone.returncode == 1 and json.loads(gone.stdout)["running"] is False
    finally:
        lifecycle.down(directory)


def test_missing_prometheus_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no prometheus on PATH
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sandbox.lifecycle import find_binary; find_binary('prometheus-nonexistent')",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    assert "prometheus-nonexistent not found on PATH" in result.stderr
    assert "apt-get install prometheus prometheus-alertmanager" in result.stderr


def test_commands_without_a_sandbox_say_how_to_start_one(tmp_path: Path) -> None:
    result = _cli("inject", "bad-deploy", "--dir", str(tmp_path / "nothing"), timeout=60)
    assert result.returncode == 1
    assert "sandbox up" in result.stderr
