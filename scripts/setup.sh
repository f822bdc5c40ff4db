#!/usr/bin/env bash
# One-time set-up on a fresh Debian/Ubuntu machine: system packages the sandbox and the tests need
# (Prometheus, Alertmanager, kubectl) and a virtualenv with devops-agent installed in it.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v kubectl >/dev/null 2>&1 || need_apt+=(kubernetes-client)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)  # promtool: SLO rule checks and tests
# PostgreSQL server binaries: the storage contract tests start a throw-away cluster (tests/fakes/postgres_server.py)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]} with apt-get" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# The Debian packages start system services where systemd runs; the sandbox and the tests run their own copies.

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  if ! "$PY" -m venv .venv 2>/dev/null; then
    echo "setup: python3 cannot create a venv; installing python3-venv with apt-get" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    rm -rf .venv && "$PY" -m venv .venv
  fi
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "setup: installing devops-agent and its dependencies into .venv (a few minutes the first time)" >&2
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[dev]'
  rm -f .venv/.installed-*; touch "$stamp"
fi

# Checkov, for the posture test that runs it beside our checks (tests/integration/test_posture_checkov.py).
# It pins its own versions of many libraries, so it gets a venv of its own and is called as a binary.
CHECKOV_VERSION=3.3.30
if [ ! -f ".venv-checkov/.installed-$CHECKOV_VERSION" ]; then
  echo "setup: installing checkov $CHECKOV_VERSION into .venv-checkov" >&2
  rm -rf .venv-checkov && "$PY" -m venv .venv-checkov
  .venv-checkov/bin/pip install -q "checkov==$CHECKOV_VERSION"
  touch ".venv-checkov/.installed-$CHECKOV_VERSION"
fi
