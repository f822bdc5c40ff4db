"""The LLM reasoner gets the same change evidence as the planner: the suspect change with its diff in
the findings, and the ranked candidates (revert before escalation) as evidence, not orders; when it
only explains, the run is escalated with the suspect in the hand-off."""

from __future__ import annotations

import pytest
from fakes.openai_server import FakeOpenAI, reply

SUSPECT = {
    "kind": "suspect_change",
    "target": "Service/shop/checkout",
    "severity": "warning",
    "summary": "Service checkout changed by kubectl-patch 40 s before the symptom began: /spec/ports/0/targetPort 8080 → 9999",
    "evidence": [],
    "data": {
        "kind": "Service",
        "name": "checkout",
        "namespace": "shop",
        "change": "j7",
        "diff": [{"path": "/spec/ports/0/targetPort", "op": "replace", "old": 8080, "new": 9999}],
        "rank": 1,
        "revertible": True,
        "deployment": "checkout",
        "changed_at": "2026-12-03T12:00:00+00:00",
        "actor": "kubectl-patch",
    },
}


@pytest.fixture
def llm():
    with FakeOpenAI() as server:
        yield server


def test_the_model_sees_the_suspect_and_the_ranked_candidates(make_runner, llm, cluster) -> None:
    cluster.extra_findings.append(SUSPECT)
    llm.add(reply("Root cause: the checkout Service's targetPort was changed to 9999."))
    runner = make_runner(reasoner="llm", llm_base_url=llm.base_url, llm_model="fake-model")
    out = runner.investigate("why is checkout failing?")
    prompt = llm.requests[0]["messages"][1]["content"]
    assert "suspect_change Service/shop/checkout" in prompt and "targetPort 8080 → 9999" in prompt
    section = prompt.split("## Candidate remediations", 1)[1]
    revert = section.index("k8s_revert_change(kind='Service', name='checkout', change='j7'")
    assert revert < section.index("escalate to a human")
    assert out.status == "escalated" and cluster.applied == []
    suspects = out.handoff["suspects"] if out.handoff else []
    assert suspects and suspects[0]["target"] == "Service/shop/checkout"
    assert suspects[0]["diff"][0]["path"] == "/spec/ports/0/targetPort"
