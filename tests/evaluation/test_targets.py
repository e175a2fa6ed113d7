"""Issue 13's thresholds. The check itself is tested on made-up means; the full run over every tune
through the demo CLI (about two minutes) asserts them for the model and runs only when
LIVEAI_EVAL_TARGETS=1 (the harmony work of issue 13 parts 2-4 is what makes it pass)."""
import os

import pytest

from liveai.evaluation.targets import TARGETS, check, summary


def test_check_thresholds_and_beating_rules():
    means = {"model": {"implied_ensemble": 0.8, "implied_alone": 0.6, "f1": 0.85, "distinct": 2.5, "echo": 0.3,
                       "bass_root": 0.7},
             "rules": {"implied_ensemble": 0.5, "implied_alone": 0.65, "f1": 0.6, "distinct": 2.4, "echo": 0.2,
                       "bass_root": 0.3}}
    rows = {(m, want): ok for m, _, want, ok in check("melody", means)}
    assert rows[("implied_ensemble", ">= 0.75")] and rows[("implied_ensemble", "beats rules (0.50)")]
    assert not rows[("implied_alone", ">= 0.7")] and not rows[("implied_alone", "beats rules (0.65)")]
    assert rows[("echo", "<= 0.4")] and not rows[("echo", "beats rules (0.20)")]  # lower echo is better
    assert rows[("bass_root", ">= 0.7")]
    assert len(rows) == 2 * len(TARGETS["melody"])
    assert summary("melody", means).startswith(f"issue 13 targets for model: {sum(rows.values())}/12 met")
    assert check("chords", {"model": {"f1": 0.95}}) == [("f1", 0.95, ">= 0.9", True)]


@pytest.mark.skipif(os.environ.get("LIVEAI_EVAL_TARGETS") != "1", reason="full run: set LIVEAI_EVAL_TARGETS=1")
def test_model_meets_issue_13_targets_on_the_tunes():
    from liveai.evaluation.runner import all_tune_cases, evaluate_cases, means
    cases = all_tune_cases()
    res = evaluate_cases(cases, jobs=2)
    for variant in ("melody", "chords"):
        keys = [c.key for c in cases if c.key.endswith("+chords") == (variant == "chords")]
        failed = [r for r in check(variant, means(res, keys)) if not r[3]]
        assert not failed, f"{variant}: {failed}"
