"""Evaluation scenarios: one YAML file each in ``evals/scenarios/``.

name: bad-deploy
description: predictor rolled out to a tag that returns 5xx
faults:
  - {fault: bad-deploy, target: predictor}
approver: approve_all        # approve_all | reject_first | never
expect_mitigation: true      # false where the right outcome is to do nothing (never, control)
timeout_s: 240               # from injection to giving up
smoke: true                  # part of the CI smoke subset
"""

from __future__ import annotations

import fnmatch
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

Approver = Literal["approve_all", "reject_first", "never"]


class FaultRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fault: str
    target: str | None = None


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    faults: list[FaultRef] = Field(default_factory=list)
    approver: Approver = "approve_all"
    expect_mitigation: bool = True
    timeout_s: float = Field(240, gt=0)
    quiet_s: float = Field(75, gt=0, description="For the control: how long to watch for false alarms.")
    smoke: bool = False

    @property
    def is_control(self) -> bool:
        return all(f.fault == "none" for f in self.faults) or not self.faults


class ScenarioError(ValueError):
    pass


def scenarios_dir() -> Path:
    return Path(str(resources.files("evals") / "scenarios"))


def load_scenarios(
    pattern: str = "*", *, smoke: bool = False, directory: Path | None = None
) -> list[Scenario]:
    """Scenarios whose file stem matches ``pattern`` (a glob), sorted by name."""
    base = directory or scenarios_dir()
    out = []
    for path in sorted(base.glob("*.yaml")):
        if not fnmatch.fnmatchcase(path.stem, pattern) and not fnmatch.fnmatchcase(path.name, pattern):
            continue
        try:
            sc = Scenario.model_validate(yaml.safe_load(path.read_text()))
        except (ValidationError, yaml.YAMLError) as exc:
            raise ScenarioError(f"{path}: {exc}") from None
        if smoke and not sc.smoke:
            continue
        out.append(sc)
    if not out:
        raise ScenarioError(f"no scenario matches {pattern!r} in {base}")
    return out
