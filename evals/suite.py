"""Run a list of scenarios (repeated N times) on one sandbox and one agent, and score them."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.harness import EvalEnv, Observation, Progress, open_env, run_scenario
from evals.scenario import Scenario
from evals.scoring import score, summarize


def run_suite(
    scenarios: list[Scenario],
    *,
    out: Path,
    sandbox_dir: Path,
    repeat: int = 1,
    overrides: dict[str, Any] | None = None,
    progress: Progress = print,
    keep_sandbox: bool = True,
) -> dict[str, Any]:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    _fresh(out, progress)
    env: EvalEnv = open_env(out, sandbox_dir, overrides=overrides, progress=progress)
    runs: list[dict[str, Any]] = []
    try:
        for n in range(repeat):
            for sc in scenarios:
                label = f"[{n + 1}/{repeat}] {sc.name}" if repeat > 1 else sc.name
                progress(f"scenario {label}: {sc.description}")
                t0 = time.time()
                try:
                    obs = run_scenario(env, sc)
                except Exception as exc:  # one broken scenario must not end the suite
                    obs = Observation(scenario=sc.name, started_at=t0, error=f"{type(exc).__name__}: {exc}")
                _save_observation(out, obs, n)
                result = score(obs, sc)
                result["repeat_index"] = n
                result["wall_s"] = round(time.time() - t0, 1)
                runs.append(result)
                progress(f"  → {'PASS' if result['passed'] else 'FAIL'} ({result['wall_s']} s)")
    finally:
        env.close()
        if not keep_sandbox:
            from sandbox import lifecycle

            lifecycle.down(sandbox_dir)
    reasoner = "llm:" + env.settings.llm_model if env.settings.use_llm else "offline planner"
    return {"started_at": started, "reasoner": reasoner, "summary": summarize(runs, repeat), "runs": runs}


def _fresh(out: Path, progress: Progress) -> None:
    """Every suite starts with an empty agent (no memory, no learned ranking, no old approvals).

    Results must be comparable run to run, so what an earlier run taught the agent is moved aside
    (``agent-data.previous``), and its observations are removed.
    """
    data = out / "agent-data"
    if data.exists():
        previous = out / "agent-data.previous"
        if previous.exists():
            shutil.rmtree(previous)
        data.rename(previous)
        progress(f"moved the previous run's agent data to {previous}")
    for old in (out / "observations").glob("*.json"):
        old.unlink()


def _save_observation(out: Path, obs: Observation, n: int) -> None:
    """Raw facts of one run next to the results, for diagnosis and re-scoring."""
    folder = out / "observations"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{obs.scenario}-{n}.json"
    path.write_text(json.dumps(dataclasses.asdict(obs), indent=2, default=str))


def rescore(out: Path) -> dict[str, Any]:
    """Score the observations saved in ``out/observations`` again (after a change to the scoring)."""
    from evals.scenario import load_scenarios
    from knowledge.runbooks import load_runbooks

    previous = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    walls = {(r["scenario"], r.get("repeat_index", 0)): r.get("wall_s") for r in previous.get("runs", [])}
    by_name = {sc.name: sc for sc in load_scenarios()}
    packaged = {rb.id: rb.fault_class for rb in load_runbooks()}
    runs = []
    for path in sorted((out / "observations").glob("*.json")):
        data = json.loads(path.read_text())
        sc = by_name.get(data["scenario"])
        if sc is None:
            continue
        n = int(path.stem.rsplit("-", 1)[1])
        data["checks"] = [tuple(c) for c in data.get("checks") or []]
        data["runbook_classes"] = data.get("runbook_classes") or packaged
        result = score(Observation(**data), sc)
        result["repeat_index"] = n
        result["wall_s"] = walls.get((sc.name, n))
        runs.append(result)
    repeat = 1 + max((r["repeat_index"] for r in runs), default=0)
    return {
        "started_at": previous.get("started_at") or datetime.now(UTC).isoformat(timespec="seconds"),
        "reasoner": previous.get("reasoner") or "rescored observations",
        "summary": summarize(runs, repeat),
        "runs": runs,
    }
