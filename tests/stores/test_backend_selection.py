"""DEVOPS_AGENT_DATABASE_URL picks the backend: the CLI and `doctor` use it, and a database that
cannot be reached is reported with the URL (password hidden) and what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from stores.conftest import Backend

from agent.approvals import ApprovalRequest, ApprovalStore
from agent.cli.doctor_checks import check_database
from agent.settings import Settings
from agent.storage import database
from agent.storage.db import DatabaseError
from tools.base import Target

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


def test_approvals_list_reads_the_configured_backend(backend: Backend) -> None:
    req = ApprovalStore(backend.open("approvals.sqlite")).add(
        ApprovalRequest.create(
            ttl_s=600,
            incident_id="inc-7",
            tool="k8s_scale",
            args={"replicas": 3},
            target=Target(kind="Deployment", name="api", namespace="shop"),
            risk="write",
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVOPS_AGENT_")} | backend.env
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "approvals", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in json.loads(done.stdout)] == [req.id]


def test_doctor_names_the_backend_and_its_schema(backend: Backend) -> None:
    ApprovalStore.open(backend.settings())
    check = check_database(backend.settings())
    assert check.ok, check.detail
    if backend.name == "postgres":
        assert check.detail.startswith("Postgres 1") and "approvals v2" in check.detail
    else:
        assert check.detail.startswith("SQLite files in")


def test_an_unreachable_database_is_reported_without_its_password(tmp_path) -> None:
    url = "postgresql://agent:pg-very-secret@127.0.0.1:1/agent"
    settings = Settings(data_dir=tmp_path, database_url=url)  # type: ignore[call-arg, arg-type]
    with pytest.raises(DatabaseError) as caught:
        database(settings, "audit.sqlite")
    message = str(caught.value)
    assert "postgresql://agent:***@127.0.0.1:1/agent" in message and "pg-very-secret" not in message
    assert "DEVOPS_AGENT_DATABASE_URL" in message
    check = check_database(settings)
    assert not check.ok and "pg-very-secret" not in check.detail


def test_missing_postgres_binaries_fail_the_run_with_what_to_do(monkeypatch) -> None:
    from fakes import postgres_server

    monkeypatch.setattr(postgres_server.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(postgres_server.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match=r"initdb, pg_ctl\) not found; run scripts/setup\.sh"):
        postgres_server.postgres_bindir()
