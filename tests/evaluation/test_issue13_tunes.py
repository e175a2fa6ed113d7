"""Issue 13 on the evaluation tunes, through the real `liveai demo --fast --input X.mid --seed 1`
(deterministic: the simulated clock). Asserted here: the thresholds the harmony work meets today.
Bass on the root (0.70) and echo below the rules are not met yet: test_targets.py checks every
threshold with LIVEAI_EVAL_TARGETS=1."""
import pytest

from liveai.evaluation.runner import all_tune_cases, evaluate_cases, means


@pytest.fixture(scope="module")
def figures():
    cases = all_tune_cases()
    res = evaluate_cases(cases, generators=("model", "rules"), jobs=2)
    melody = [c.key for c in cases if not c.key.endswith("+chords")]
    chords = [c.key for c in cases if c.key.endswith("+chords")]
    return means(res, melody), means(res, chords)


def test_with_left_hand_chords_the_band_plays_the_players_chords(figures):
    _, chords = figures
    m = chords["model"]
    assert m["implied_alone"] >= 0.95, m
    assert m["f1"] >= 0.90, m
    assert m["bass_root"] >= 0.90, m


def test_melody_only_full_chords_that_beat_the_rules_and_the_drone(figures):
    melody, _ = figures
    m, r, drone = melody["model"], melody["rules"], melody["drone"]
    assert m["f1"] >= 0.80 and m["distinct"] >= 2.3 and m["echo"] <= 0.40, m
    # measured 0.70 and 0.70 before the form recogniser (liveai.harmony.forms), 0.76 and 0.76 with it
    assert m["implied_ensemble"] >= 0.75 and m["implied_alone"] >= 0.70, m
    for k in ("implied_ensemble", "implied_alone", "f1", "distinct", "bass_root"):
        assert m[k] > r[k], (k, m[k], r[k])
    for k in ("implied_ensemble", "implied_alone", "f1", "bass_root"):
        assert m[k] > drone[k], (k, m[k], drone[k])


@pytest.mark.skipif("not __import__('importlib').util.find_spec('music21')")
def test_held_out_chorales_full_chords_without_parallels():
    """Twelve held-out chorales through the engine: the voices fill the chord (distinct >= 2.3)
    and move without parallel fifths or octaves (<= 3.5 per 1000 steps; Bach's own 1.7), also
    against the tune: a melody note heard at a step that has not sounded yet re-voices it."""
    from liveai.evaluation.chorales import chorale_cases
    cases = chorale_cases(12)
    res = evaluate_cases(cases, generators=("model",), jobs=2)
    m = means(res, [c.key for c in cases])
    assert m["model"]["distinct"] >= 2.3, m["model"]
    assert m["model"]["parallels"] <= 3.5, m["model"]
    assert m["bach"]["parallels"] <= 3.5  # the reference line is measured the same way
