"""`devops-agent mcp` as a client launches it (stdio), and `devops-agent approvals approve` deciding
what it asked for: the same approval store, the change applied once by the client afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from fakes.agent_env import offline_values
from kube_fixtures import NS, World, world_fixture  # noqa: F401
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def _env(tmp_path: Path, world: World) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVOPS_AGENT_", "OPENAI_"))}
    env.update(
        {f"DEVOPS_AGENT_{k.upper()}": v for k, v in offline_values(tmp_path, world.kubeconfig).items()}
    )
    env["DEVOPS_AGENT_REASONER"] = "planner"
    return env


def test_stdio_server_reads_holds_the_action_and_applies_it_once_approved(
    world: World, tmp_path: Path
) -> None:
    env = _env(tmp_path, world)
    params = StdioServerParameters(command=sys.executable, args=["-m", "agent.cli", "mcp"], env=env)
    scale = {"deployment": "api", "namespace": NS, "replicas": 3}

    async def main() -> None:
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"k8s_get", "k8s_scale", "apply_approved"} <= names
            got = await client.call_tool("k8s_get", {"kind": "deployment", "name": "api", "namespace": NS})
            assert not got.is_error and "api:v2" in got.content[0].text
            held = await client.call_tool("k8s_scale", scale)
            approval_id = held.structured_content["approval_id"]
            assert held.structured_content["status"] == "pending_approval"
            assert world.store.get("deployments", NS, "api")["spec"]["replicas"] == 2

            listed = subprocess.run(
                [sys.executable, "-m", "agent.cli", "approvals", "approve", approval_id, "--as", "cli:alice"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert listed.returncode == 0, listed.stderr
            assert "apply_approved" in listed.stdout
            assert (
                world.store.get("deployments", NS, "api")["spec"]["replicas"] == 2
            )  # approving is not applying

            applied = await client.call_tool("apply_approved", {"approval_id": approval_id})
            assert applied.structured_content["status"] == "applied", applied.content[0].text
            assert world.store.get("deployments", NS, "api")["spec"]["replicas"] == 3

    anyio.run(main)
