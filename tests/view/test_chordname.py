"""The piano roll's chord namer: templates over pitch-class weights, and chord-symbol parsing."""
from __future__ import annotations

import pytest

from liveai.music.theory import QUALITIES
from liveai.view.chordname import parse_chord, recognise


def weights(*pcs: int) -> dict[int, float]:
    return {pc % 12: 1.0 for pc in pcs}


@pytest.mark.parametrize("root", range(12))
@pytest.mark.parametrize("quality", ["maj", "min", "7", "m7", "maj7", "dim"])
def test_every_root_and_quality_is_named_back(root, quality):
    pcs = [(root + i) % 12 for i in QUALITIES[quality][0]]
    ch = recognise(weights(*pcs), bass=root)
    assert (ch.root, ch.quality, ch.bass) == (root, quality, None)


def test_inversion_passing_tone_and_nothing():
    ch = recognise(weights(0, 4, 7), bass=4)
    assert ch.name == "C/E"
    w = {7: 3.0, 11: 2.0, 2: 2.0, 9: 0.3}  # G major with a short passing A
    assert recognise(w).name == "G"
    assert recognise({}) is None
    assert recognise({0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1, 8: 1, 9: 1, 10: 1, 11: 1}) is None


@pytest.mark.parametrize("name,root,quality,bass", [
    ("Am7", 9, "m7", None), ("F#", 6, "maj", None), ("Bb7/D", 10, "7", 2), ("Ebm(maj7)", 3, "mmaj7", None),
    ("Cmaj7", 0, "maj7", None), ("Gsus4", 7, "sus4", None), ("Bm7b5", 11, "m7b5", None)])
def test_parse_chord(name, root, quality, bass):
    ch = parse_chord(name)
    assert (ch.root, ch.quality, ch.bass) == (root, quality, bass)
    assert parse_chord(ch.name) == ch  # names round-trip


@pytest.mark.parametrize("bad", ["", "H7", "Cxyz", "C/Q"])
def test_parse_chord_rejects(bad):
    with pytest.raises(ValueError):
        parse_chord(bad)
