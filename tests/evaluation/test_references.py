"""Reference accompanists: the ceiling scores 1.0 on every tune; the drone is scored, not assumed."""
import pytest

from liveai.evaluation.harmony import score, triad_key
from liveai.evaluation.references import ceiling, drone
from liveai.evaluation.annotated import TUNES


@pytest.mark.parametrize("tune", list(TUNES.values()), ids=list(TUNES))
def test_ceiling_is_perfect_on_every_tune(tune):
    chords = tune.chord_steps()
    acc = ceiling(chords)
    s = score(tune.notes, acc, chords, tune.steps_per_bar)
    for m in ("precision", "recall", "f1", "implied_alone", "bass_root"):
        assert s[m] == 1.0, m
    assert s["distinct"] == 3.0
    # root position close triads in octave 3, one voice per part
    assert all(48 <= n.pitch < 48 + 12 for n in acc if n.part == "bass")
    assert all(n.pitch % 12 == triad_key(chords[n.start])[0] for n in acc if n.part == "bass")


def test_drone_holds_the_tonic_triad_and_scores_by_the_metrics():
    tune = TUNES["waltz-am"]
    chords = tune.chord_steps()
    acc = drone(tune.tonic, tune.minor, tune.total_steps)
    assert sorted(n.pitch % 12 for n in acc) == [0, 4, 9]  # A minor
    assert all(n.start == 0 and n.end == tune.total_steps for n in acc)
    s = score(tune.notes, acc, chords, tune.steps_per_bar)
    spb = tune.steps_per_bar
    # the same figures worked out here from the chords: Am's tones against each step's chord
    scored = chords[spb:]
    prec = sum(len({9, 0, 4} & set(c.pcs)) / 3 for c in scored) / len(scored)
    assert s["precision"] == pytest.approx(prec)
    assert s["echo"] == 0.0 and s["distinct"] == 3.0  # it strikes nothing after the first bar
    changes = [k for k in range(spb, len(chords)) if chords[k] != chords[k - 1]]
    assert s["bass_root"] == pytest.approx(sum(chords[k].root == 9 for k in changes) / len(changes))
    assert 0.2 < s["f1"] < 0.8
