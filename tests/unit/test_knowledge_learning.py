"""Learning from outcomes: ranking with a prior, failures demote, signatures are stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.learning import OutcomeStats, signature_for

SIG = signature_for("KubePodCrashLooping", ["crash_loop", "config_changed"], "ingest-worker")
FIRST = "crashloop-config-revert:revert-config"
SECOND = "crashloop-config-revert:restart-after-revert"


@pytest.fixture
def stats(tmp_path: Path) -> OutcomeStats:
    return OutcomeStats(tmp_path / "learning.sqlite")


def test_untried_actions_keep_the_runbook_order(stats: OutcomeStats) -> None:
    assert [k for k, _ in stats.rank(SIG, [FIRST, SECOND])] == [FIRST, SECOND]


def test_a_remediation_that_failed_twice_is_no_longer_first(stats: OutcomeStats) -> None:
    stats.record(SIG, FIRST, "no_effect")
    assert stats.rank(SIG, [FIRST, SECOND])[0][0] == FIRST  # one failure is not yet enough
    stats.record(SIG, FIRST, "worse")
    ranked = stats.rank(SIG, [FIRST, SECOND])
    assert ranked[0][0] == SECOND
    assert ranked[0][1] > ranked[1][1]


def test_failures_count_per_signature_only(stats: OutcomeStats) -> None:
    other = signature_for("KubePodCrashLooping", ["crash_loop"], "predictor")
    for _ in range(3):
        stats.record(other, FIRST, "no_effect")
    assert stats.rank(SIG, [FIRST, SECOND])[0][0] == FIRST


def test_one_lucky_success_does_not_beat_a_long_record(stats: OutcomeStats) -> None:
    for _ in range(9):
        stats.record(SIG, FIRST, "fixed")
    stats.record(SIG, FIRST, "no_effect")
    stats.record(SIG, SECOND, "fixed")
    assert stats.rank(SIG, [SECOND, FIRST])[0][0] == FIRST


def test_a_proven_fix_overtakes_the_runbook_default(stats: OutcomeStats) -> None:
    for _ in range(3):
        stats.record(SIG, SECOND, "fixed")
    assert stats.rank(SIG, [FIRST, SECOND])[0][0] == SECOND


def test_statistics_survive_reopening_and_summarise(tmp_path: Path) -> None:
    OutcomeStats(tmp_path / "l.sqlite").record(SIG, FIRST, "rejected")
    again = OutcomeStats(tmp_path / "l.sqlite")
    again.record(SIG, FIRST, "fixed")
    summary = again.summary_for(SIG)
    assert f"{FIRST}: fixed 1/2, rejected 1" in summary
    assert "No recorded" in again.summary_for("alert=-|findings=-|service=-")
    assert again.totals() == {"signatures": 1, "fixed": 1, "not_fixed": 1}


def test_unknown_outcome_is_refused(stats: OutcomeStats) -> None:
    with pytest.raises(ValueError, match="unknown outcome 'maybe'"):
        stats.record(SIG, FIRST, "maybe")  # type: ignore[arg-type]


def test_signature_is_stable_under_order_and_duplicates() -> None:
    a = signature_for("X", ["b", "a", "b"], "svc")
    assert a == signature_for("X", ["a", "b"], "svc") == "alert=X|findings=a,b|service=svc"
    assert signature_for(None, [], None) == "alert=-|findings=-|service=-"


def test_proven_fix_is_the_action_that_fixed_this_signature_before(stats: OutcomeStats) -> None:
    assert stats.proven_fix(SIG, [FIRST, SECOND]) is None
    stats.record(SIG, SECOND, "fixed")
    assert stats.proven_fix(SIG, [FIRST, SECOND]) == SECOND
    assert stats.proven_fix(SIG, [FIRST]) is None  # not a candidate this time
    stats.record(SIG, SECOND, "no_effect")
    assert stats.proven_fix(SIG, [FIRST, SECOND]) is None  # 1 of 2 is not proven


def test_relevant_kinds_keep_a_transient_finding_out_of_the_signature() -> None:
    from knowledge.runbooks import load_runbooks

    rb = next(r for r in load_runbooks() if r.id == "bad-deploy-rollback")
    noisy = signature_for(
        "ServiceHighErrorRate", ["high_error_rate", "recent_rollout", "readiness_failing"], "p"
    )
    clean = signature_for("ServiceHighErrorRate", ["high_error_rate", "recent_rollout"], "p")
    assert noisy != clean
    relevant = rb.relevant_kinds()
    assert signature_for(
        "ServiceHighErrorRate",
        ["high_error_rate", "recent_rollout", "readiness_failing"],
        "p",
        relevant=relevant,
    ) == signature_for("ServiceHighErrorRate", ["high_error_rate", "recent_rollout"], "p", relevant=relevant)
