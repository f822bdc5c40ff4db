"""Run a list of scenarios (repeated N times) on one sandbox and one agent, and score them."""

from __future__ import annotations

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
