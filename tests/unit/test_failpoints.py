"""Failpoints kill the process once at a node boundary, and cost nothing when unset."""

from __future__ import annotations

import inspect
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent import failpoints
from agent.nodes.act import apply_action

SCRIPT = """
import os, sys
from agent import failpoints
calls = []
def node(state, runtime):
    calls.append(state)
    return {"ok": state}
wrapped = failpoints.wrap("act", node)
print(wrapped(1, None), flush=True)
"""


def _run(tmp_path: Path, spec: str) -> subprocess.CompletedProcess[str]:
    env = {failpoints.ENV_POINTS: spec, failpoints.ENV_DIR: str(tmp_path / "marks")}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], env={**_base_env(), **env}, capture_output=True, text=True, timeout=60
    )


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("DEVOPS_AGENT_FAILPOINT")}


def test_unset_the_node_is_returned_unchanged() -> None:
    assert failpoints.wrap("act", apply_action, environ={}) is apply_action
    assert (
        failpoints.wrap("act", apply_action, environ={failpoints.ENV_POINTS: "before:verify"}) is apply_action
    )


def test_a_wrapped_node_keeps_its_signature_so_the_graph_still_injects_the_runtime(tmp_path: Path) -> None:
    env = {failpoints.ENV_POINTS: "before:*", failpoints.ENV_DIR: str(tmp_path)}
    wrapped = failpoints.wrap("act", apply_action, environ=env)
    assert wrapped is not apply_action
    assert inspect.signature(wrapped) == inspect.signature(apply_action)


@pytest.mark.parametrize("spec", ["before:act", "after:act", "before:*", "after:*"])
def test_the_first_hit_kills_the_process_and_the_restart_runs_through(tmp_path: Path, spec: str) -> None:
    first = _run(tmp_path, spec)
    assert first.returncode == -signal.SIGKILL, first.stderr
    assert first.stdout == ""  # killed before the result was printed, whichever side of the node
    assert [p.name for p in (tmp_path / "marks").iterdir()] == [spec.replace(":", "-").replace("*", "act")]
    second = _run(tmp_path, spec)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "{'ok': 1}"


def test_a_point_for_another_node_does_not_fire(tmp_path: Path) -> None:
    assert _run(tmp_path, "before:verify,after:learn").returncode == 0


@pytest.mark.parametrize("spec", ["act", "during:act", "before:", ":act"])
def test_a_bad_setting_is_a_clear_error(spec: str, tmp_path: Path) -> None:
    with pytest.raises(failpoints.FailpointError, match="before:NODE or after:NODE"):
        failpoints.wrap("act", apply_action, environ={failpoints.ENV_POINTS: spec, failpoints.ENV_DIR: "x"})


def test_points_without_a_marker_directory_are_refused() -> None:
    with pytest.raises(failpoints.FailpointError, match=failpoints.ENV_DIR):
        failpoints.wrap("act", apply_action, environ={failpoints.ENV_POINTS: "before:act"})
