# One-word tasks. Every target sets itself up first (scripts/setup.sh is idempotent).
PY := .venv/bin/python
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: setup demo test lint eval eval-smoke bench clean campaign

setup:
	@scripts/setup.sh

demo: setup  ## the sandbox demo: a fault is injected, the agent detects, diagnoses, acts, verifies, remembers
	$(PY) -m evals.demo

test: setup  ## the test suite (what CI runs)
	$(PY) -m pytest -n 2 --dist loadgroup

lint: setup  ## ruff, the strict type checker and the import layers
	ruff check agent tools knowledge sandbox evals tests
	ruff format --check agent tools knowledge sandbox evals tests
	mypy
	lint-imports

eval: setup  ## the whole evaluation suite on the sandbox
	$(PY) -m agent.cli eval run --out eval-results

eval-smoke: setup
	$(PY) -m agent.cli eval run --smoke --out eval-results/smoke

bench: setup  ## benchmarks; results in benchmarks/results/
	$(PY) -m benchmarks.run

campaign: setup  ## the hostile-input and fault campaign (every behaviour x10, full fuzzing); writes docs/campaign.md
	rm -rf .campaign
	-DEVOPS_AGENT_CAMPAIGN_RUNS=10 DEVOPS_AGENT_CAMPAIGN_OUT=.campaign $(PY) -m pytest tests/campaign tests/unit/test_slack_bot.py tests/unit/test_audit_anchor.py tests/e2e/test_serve_kill_nodes.py -q -p no:randomly --timeout 1800
	$(PY) scripts/campaign_report.py .campaign docs/campaign.md

clean:
	rm -rf .data .sandbox build dist *.egg-info
