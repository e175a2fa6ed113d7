from liveai.generators.base import PlayerNote
from liveai.theory import Chord, Key, chord_from_pitches, detect_key, diatonic_chords, choose_chord
from liveai.tunes import ODE_TO_JOY, AMAZING_GRACE_G


def scale_notes(tonic, minor=False):
    degrees = (0, 2, 3, 5, 7, 8, 11, 12) if minor else (0, 2, 4, 5, 7, 9, 11, 12)
    out = [PlayerNote(60 + tonic + d, 80, 4 * i, 4 * i + 4) for i, d in enumerate(degrees)]
    out.append(PlayerNote(60 + tonic, 80, 32, 40))
    return out


def test_key_of_scales():
    for tonic in range(12):
        assert detect_key(scale_notes(tonic), 40) == Key(tonic)
    assert detect_key(scale_notes(9, minor=True), 40) == Key(9, True)


def test_key_of_tunes_and_hysteresis():
    assert detect_key(ODE_TO_JOY.notes(), 256) == Key(2)
    assert detect_key(AMAZING_GRACE_G.notes(), 180) == Key(7)
    # one chromatic passing note does not flip an established key
    notes = scale_notes(0) + [PlayerNote(66, 80, 40, 41)]
    assert detect_key(notes, 41, previous=Key(0)) == Key(0)


def test_chords():
    assert chord_from_pitches([60, 64, 67]) == Chord(0, "maj")
    assert chord_from_pitches([57, 60, 64]) == Chord(9, "min")
    assert chord_from_pitches([60]) is None
    assert [str(c) for c, _ in diatonic_chords(Key(7))][:5] == ["G", "Am", "Bm", "C", "D"]
    assert choose_chord(Key(0), [(7, 2.0), (11, 1.0), (2, 1.0)]) == Chord(7, "maj")
