"""Output budget: estimate, deterministic truncation that says what it cut, raw output saved."""

from __future__ import annotations

from pathlib import Path

from tools.budget import estimate_tokens, fit_text, save_raw, shaped
from tools.deps import Deps


def lines(n: int) -> str:
    return "\n".join(f"line {i:04d} " + "x" * 30 for i in range(n))


def test_estimate_is_chars_over_four_rounded_up() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_text_within_budget_is_untouched() -> None:
    assert fit_text("short", 10) == ("short", False)


def test_head_truncation_keeps_first_lines_and_says_what_was_cut() -> None:
    text, cut = fit_text(lines(200), 300)
    assert cut
    assert estimate_tokens(text) <= 300
    assert text.startswith("line 0000")
    notice = text.splitlines()[-1]
    assert (
        notice.startswith("[truncated: showing the first ")
        and "of 200 lines" in notice
        and "300-token budget" in notice
    )
    kept = len(text.splitlines()) - 1
    assert f"{200 - kept} lines" in notice


def test_tail_truncation_keeps_last_lines() -> None:
    text, cut = fit_text(lines(200), 300, keep="tail")
    assert cut and text.splitlines()[-1].startswith("line 0199")
    assert text.splitlines()[0].startswith("[truncated: showing the last ")


def test_truncation_is_deterministic() -> None:
    assert fit_text(lines(500), 250) == fit_text(lines(500), 250)


def test_one_huge_line_is_cut_to_a_prefix() -> None:
    text, cut = fit_text("y" * 10_000, 100)
    assert cut and estimate_tokens(text) <= 100 and text.startswith("yyyy")


def test_save_raw_is_redacted_and_content_addressed(tmp_path: Path) -> None:
    a = save_raw(tmp_path, "tool/x", "password=hunter2\n" + lines(3))
    b = save_raw(tmp_path, "tool/x", "password=hunter2\n" + lines(3))
    assert a == b and a.parent == tmp_path
    assert "hunter2" not in a.read_text()


def test_shaped_result_fits_budget_and_points_to_the_raw_file(tmp_path: Path) -> None:
    deps = Deps(token_budget=120, raw_dir=tmp_path / "raw")
    result = shaped(deps, "k8s_list", lines(100), data={"token": "abc"}, raw=[{"n": i} for i in range(100)])
    assert result.truncated and result.raw_path
    assert f"[full output saved to {result.raw_path}]" in result.text
    assert '"n": 99' in Path(result.raw_path).read_text()
    assert result.data == {"token": "****"}
