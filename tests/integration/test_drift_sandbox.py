"""In the running sandbox (real processes, the simulation's controllers at work): the seeded platform
matches ``sandbox/manifests``, a real ``kubectl edit`` shows as drift in ``devops-agent drift``, and a
catalog fault injected through the API does too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sandbox_fixture import Sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(300)]
NS = "market-predictor"


def _drift(sandbox: Sandbox, tmp_path: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, **sandbox.env(), "DEVOPS_AGENT_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "drift", "--json", *args],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def test_the_running_sandbox_matches_its_manifests_until_someone_edits_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.reset()
    clean = _drift(sandbox, tmp_path)
    assert clean["checked"] == 40 and clean["drifted"] == [] and clean["errors"] == {}

    editor = "sed -i -e s/WORKERS:.*/WORKERS:\\ \\'16\\'/"
    done = subprocess.run(
        ["kubectl", "--kubeconfig", sandbox.kubeconfig, "-n", NS, "edit", "configmap/predictor-config"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "KUBE_EDITOR": editor},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sandbox.inject("bad-deploy")
    try:
        report = _drift(sandbox, tmp_path, "-n", NS)
    finally:
        sandbox.heal()
        sandbox.reset()
    drifted = {(d["kind"], d["name"]): d for d in report["drifted"]}
    cm = drifted[("ConfigMap", "predictor-config")]
    assert [(f["path"], f["live"], f["desired"]) for f in cm["fields"]] == [("/data/WORKERS", "16", "4")]
    assert any(kind == "Deployment" for kind, _ in drifted), report["drifted"]
