"""liveai.evaluation.surface watches one real simulated run: the wire, the take, the chords shown."""
import pytest

from liveai.evaluation import surface
from liveai.evaluation.runner import all_tune_cases


def test_a_band_run_is_watched_and_the_take_is_the_wire(tmp_path):
    case = all_tune_cases(variants=("melody",))[0]
    r = surface.run(case.write_input(tmp_path / "in.mid"), "pop", "bar")
    m = surface.measure(r, "bar")
    assert m["notes"] > 100 and m["held_notes"] > 20
    assert m["take_missing"] == 0 and m["take_extra"] == 0  # every note sent is in the take, as long
    assert m["changes"] > 0 and m["off_rhythm"] == 0  # a set harmonic rhythm bounds every change
    assert len(r.chords) == len(r.nexts) > 16 * 8


@pytest.mark.parametrize("band,key,first", [("pop", None, 0), ("ballad", "G", 0), ("ballad", None, 4)])
def test_the_band_comes_in_on_the_first_downbeat_and_never_strikes_and_cuts(tmp_path, band, key, first):
    """Issue 28: the first note is the band's beat 1 (the drums on it; the harmony too when the key
    is set, else from the first beat heard: a ballad's sparse part has no drums); a chord the melody
    corrects is changed in place (a held part blooms a moment after the beat, a struck note sounds
    MIN_SOUND_S at least): no note of zero length, none hung, held parts rarely a 16th long."""
    case = all_tune_cases(variants=("melody",))[0]
    m = surface.measure(surface.run(case.write_input(tmp_path / "in.mid"), band, extra={"key": key} if key else None))
    assert m["first_band_step"] == first
    assert m["zero_length"] == 0 and m["unpaired"] == 0, m
    assert m["held_short"] <= 0.05 * m["held_notes"], m


def test_a_set_harmonic_rhythm_commits_the_next_chord_a_beat_ahead(tmp_path):
    """The predictable band (a set rhythm): the chord shown as next a beat before a change is the
    chord that comes, but for the downbeat notes that clash with it (corrections, counted)."""
    case = all_tune_cases(variants=("melody",))[0]
    m = surface.measure(surface.run(case.write_input(tmp_path / "in.mid"), "pop", "half"), "half")
    assert m["changes"] >= 8 and m["announced"] >= 0.7 * m["changes"], m


def test_wire_notes_pair_ons_and_offs_first_in_first_out():
    from liveai.io.output import OutEvent
    evs = [(0.0, OutEvent.note_on(0, 60, 80, "pad.1")), (0.0, OutEvent.note_on(0, 60, 70, "pad.2")),
           (1.0, OutEvent.note_off(0, 60, "pad.1")), (2.0, OutEvent.note_off(0, 60, "pad.2"))]
    notes = surface.wire_notes(evs)
    assert [(n.part, n.velocity, n.end - n.start) for n in notes] == [("pad", 80, 1.0), ("pad", 70, 2.0)]


def test_the_harmony_comes_in_on_the_first_beat_it_knows_the_chord(tmp_path):
    """Without a key, the first melody note names no chord: the drums come in on it, and every
    harmony part on the next beat (not at its next pattern hit: the pad waited for bar 2)."""
    case = all_tune_cases(variants=("melody",))[0]
    r = surface.run(case.write_input(tmp_path / "in.mid"), "pop")
    t0 = r.take_start
    first = {}
    for n in r.wire:
        first[n.part] = min(first.get(n.part, 1e9), round((n.start - t0) / r.step_s))
    assert first["drums"] == 0, first
    assert first["bass"] <= 4 and first["pad"] <= 4, first

