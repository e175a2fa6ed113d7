"""Chord symbols and recognising the chords a player strikes (arranger-keyboard "Fingered" mode)."""
import numpy as np
import pytest

from liveai.harmony.chords import label_chord, recognize
from liveai.music.theory import QUALITIES, ChordSymbol


@pytest.mark.parametrize("pitches, name", [
    ((60, 64, 67), "C"),            # root position
    ((64, 67, 72), "C/E"),          # first inversion
    ((67, 72, 76), "C/G"),          # second inversion
    ((57, 60, 64), "Am"),
    ((60, 64, 67, 70), "C7"),
    ((62, 65, 69, 72), "Dm7"),
    ((59, 62, 65, 69), "Bm7b5"),
    ((60, 63, 66, 69), "Cdim7"),
    ((60, 65, 67), "Csus4"),
    ((60, 62, 67), "Csus2"),
    ((60, 64, 67, 69), "C6"),
    ((60, 64, 70), "C7"),           # a jazz shell: root, third, seventh
    ((48, 55), "C"),                # a power chord
])
def test_recognises_chords_in_any_inversion(pitches, name):
    assert recognize(pitches).name == name


def test_a_melody_note_struck_with_the_chord_does_not_confuse_it():
    # C major block in the left hand, D5 on top (not a chord tone): still C
    assert recognize((48, 52, 55, 74)).name == "C"
    assert recognize((45, 48, 52, 71)).name == "Am"


def test_an_unrecognised_cluster_is_not_a_chord():
    assert recognize((60, 61, 62)) is None
    assert recognize((60,)) is None


def test_every_quality_round_trips_through_recognition_in_root_position():
    for q, (ivs, _) in QUALITIES.items():
        c = recognize([60 + i for i in ivs])
        assert c is not None and c.root == 0
        assert set(c.pcs) == {i % 12 for i in ivs}, q


def test_label_chord_names_bachs_beat():
    w = np.zeros(12)
    w[[7, 11, 2, 5]] = [3, 2, 2, 1.5]  # G B D F, G in the bass
    assert label_chord(w, 7).name == "G7"
    w = np.zeros(12)
    w[[0, 4, 7]] = [3, 2, 2]
    w[2] = 0.5  # a passing D
    assert label_chord(w, 0).name == "C"
    assert label_chord(np.zeros(12)) is None


def test_triad_of_a_seventh_chord_and_of_a_sus_chord():
    assert ChordSymbol(7, "7").triad == (7, 11, 2)
    assert ChordSymbol(0, "sus4").triad == (0, 4, 7)
    with pytest.raises(ValueError):
        ChordSymbol(0, "maj13")


def test_clashes_is_the_avoid_note_rule():
    from liveai.harmony.chords import clashes
    from liveai.music.theory import ChordSymbol
    c = ChordSymbol(0, "maj")
    assert [pc for pc in range(12) if clashes(pc, c)] == [1, 5, 8]  # Db, F, Ab over C
    assert not clashes(11, c) and not clashes(2, c) and not clashes(9, c)  # maj7, 9, 6 are colour
    assert clashes(4, ChordSymbol(0, "min")) and not clashes(2, ChordSymbol(0, "min"))
    assert clashes(11, ChordSymbol(0, "7"))  # a natural seventh over a dominant seventh
