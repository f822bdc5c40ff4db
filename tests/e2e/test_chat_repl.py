"""`devops-agent chat` as a user drives it: a real terminal (pty), the fake OpenAI server, the
Kubernetes API stand-in. Commands, a streamed answer with its tool calls, an approval answered inline,
Ctrl-C in the middle of an answer, and /quit."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from fakes.agent_env import NAMESPACE, agent_env
from fakes.openai_server import call, reply
from fakes.pty_session import PtySession

from agent.audit import AuditLog

pytestmark = pytest.mark.timeout(300)

PROMPT = "you> "
ROLLBACK = {"deployment": "predictor", "namespace": NAMESPACE}


def held(release: threading.Event, entry):
    """A script entry the fake model answers only once ``release`` is set (an answer 'in progress')."""

    def wait(body):
        release.wait(150)  # far longer than the test waits for the interruption
        return entry

    return wait


@pytest.fixture
def chat(tmp_path, cluster, llm):
    _, kubeconfig = cluster
    env = agent_env(tmp_path, kubeconfig, llm)
    env.update({"DEVOPS_AGENT_REASONER": "llm", "TERM": "xterm", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"})
    session = PtySession([sys.executable, "-m", "agent.cli", "chat"], env)
    yield session
    session.close()


def test_chat_repl_as_a_user_drives_it(chat, llm, tmp_path):
    chat.expect("/help for commands")
    chat.expect(PROMPT)

    chat.line("/help")
    help_text = chat.expect(PROMPT)
    for command in ("/help", "/incidents", "/approvals", "/new", "/quit"):
        assert command in help_text

    # a question: the answer streams, tool calls are shown, the rollback is approved inline
    llm.add(
        reply(tool_calls=[call("k8s_rollout_history", ROLLBACK)]),
        reply(
            "The predictor runs a bad image; rolling it back.", tool_calls=[call("k8s_rollback", ROLLBACK)]
        ),
        reply("Root cause: predictor image 1.5.0 is broken; rolled back to the previous revision."),
    )
    chat.line("what is wrong with the predictor?")
    chat.expect("calling k8s_rollout_history")
    chat.expect("proposes k8s_rollback")
    chat.expect("approve? [y]es / [n]o / [e]dit arguments")
    chat.line("y")
    answer = chat.expect(PROMPT)
    assert "applying k8s_rollback" in answer
    assert "Root cause: predictor image 1.5.0 is broken" in answer  # streamed to the terminal
    assert "Traceback" not in chat.output
    applied = AuditLog(tmp_path / "data" / "audit.sqlite").rows(kind="action_applied")
    assert [r.data.get("tool") for r in applied] == ["k8s_rollback"]  # applied exactly once

    chat.line("/approvals")
    assert "no pending approvals" in chat.expect(PROMPT)
    chat.line("/incidents")
    assert "chat-" in chat.expect(PROMPT)  # this conversation is listed

    # Ctrl-C while the model is still answering: the answer stops, the prompt comes back
    release = threading.Event()
    llm.add(held(release, reply("Root cause: this answer was interrupted.")))
    asked = len(llm.requests)
    chat.line("and how bad is it?")
    deadline = time.monotonic() + 90
    while len(llm.requests) == asked and time.monotonic() < deadline:  # the model has the question
        time.sleep(0.1)
    assert len(llm.requests) > asked, chat.output[-2000:]
    chat.send("\x03")
    chat.expect("interrupted", timeout_s=60)  # not held until the model answers
    chat.expect(PROMPT)
    release.set()

    # the program goes on: the next question is answered on the same conversation
    llm.add(reply("Root cause: the predictor is healthy again."))
    chat.line("is it fixed?")
    assert "Root cause: the predictor is healthy again." in chat.expect(PROMPT)
    assert "this answer was interrupted" not in chat.output

    chat.line("/quit")
    assert chat.wait() == 0
    applied = AuditLog(tmp_path / "data" / "audit.sqlite").rows(kind="action_applied")
    assert len(applied) == 1


def test_an_approval_left_open_with_ctrl_c_is_listed_and_asked_again(chat, llm, tmp_path):
    chat.expect(PROMPT)
    llm.add(
        reply("Rolling the predictor back.", tool_calls=[call("k8s_rollback", ROLLBACK)]),
        reply("Root cause: predictor image 1.5.0 is broken; a human declined the rollback."),
    )
    chat.line("fix the predictor")
    chat.expect("approve? [y]es / [n]o / [e]dit arguments")
    chat.send("\x03")  # the user walks away from the question
    chat.expect("interrupted")
    chat.expect(PROMPT)

    chat.line("/approvals")
    listed = chat.expect(PROMPT)
    assert "k8s_rollback" in listed and "chat-" in listed  # pending, with its conversation

    chat.line("and now?")
    chat.expect("still waits for an approval")
    chat.expect("approve? [y]es / [n]o / [e]dit arguments")
    chat.line("n")
    chat.expect("why (the agent is told)")
    chat.line("not during business hours")
    chat.expect(PROMPT)
    chat.line("/approvals")
    assert "no pending approvals" in chat.expect(PROMPT)
    assert AuditLog(tmp_path / "data" / "audit.sqlite").rows(kind="action_applied") == []
    told = [m["content"] for m in llm.requests[1]["messages"] if m["role"] == "tool"]
    assert any("not during business hours" in t for t in told)

    chat.line("/quit")
    assert chat.wait() == 0
