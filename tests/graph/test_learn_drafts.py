"""learn writes a draft runbook when a resolved incident matched no runbook (LLM reasoner, scripted
model, fake cluster), and none when a runbook matched; the draft parses and is never loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAI, call, reply

from agent.approvals import ApprovalDecision
from knowledge.runbooks import load_runbooks, parse_runbook

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def llm():
    with FakeOpenAI() as server:
        yield server


def _resolve(make_runner, llm):
    llm.add(
        reply(tool_calls=[call("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})]),
        reply("Root cause: checkout v2 was bad; rolled back to v1."),
    )
    runner = make_runner(reasoner="llm", llm_base_url=llm.base_url, llm_model="fake-model")
    req = runner.investigate("checkout 500s").approvals[0]
    out = runner.resume(
        req["id"], ApprovalDecision(approval_id=req["id"], decision="approve", approver="alice")
    )
    assert out.status == "resolved"
    return runner


def test_a_fix_no_runbook_knew_becomes_a_draft(make_runner, llm, runbook_dir: Path, tmp_path: Path):
    for f in runbook_dir.glob("*.md"):
        f.unlink()  # this incident matches no runbook
    runner = _resolve(make_runner, llm)
    drafts = list((tmp_path / "data" / "runbooks" / "drafts").glob("draft-*.md"))
    assert len(drafts) == 1
    rb = parse_runbook(drafts[0].read_text(), str(drafts[0]), tool_names=runner.deps.tools.names())
    assert rb.draft and [r.tool for r in rb.remediations] == ["k8s_rollback"]
    assert rb.remediations[0].args == {"deployment": "{service}", "namespace": "{namespace}"}
    names = runner.deps.tools.names()
    loaded = load_runbooks([tmp_path / "data" / "runbooks"], tool_names=names, include_packaged=False)
    assert all(not r.id.startswith("draft-") for r in loaded)


def test_no_draft_when_a_runbook_matched(make_runner, llm, tmp_path: Path):
    _resolve(make_runner, llm)
    assert not list((tmp_path / "data" / "runbooks" / "drafts").glob("*.md"))
