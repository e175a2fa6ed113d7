"""Accessible play: each --input-map as a pure mapping, and through the engine."""
import mido
import pytest

from liveai.music.input_map import ChordMap, DegreesMap, PadsMap, make_input_map, parse_key
from liveai.music.theory import Key


def on(n):
    return mido.Message("note_on", note=n, velocity=90)


def off(n):
    return mido.Message("note_off", note=n)


def test_degrees_white_keys_play_the_scale_of_any_key():
    m = DegreesMap(parse_key("Eb"))
    played = [m(on(n))[0].note for n in (60, 62, 64, 65, 67, 69, 71)]
    assert [p % 12 for p in played] == [3, 5, 7, 8, 10, 0, 2]
    assert played == sorted(played)
    assert m(on(61)) == []  # black keys are ignored
    assert m(off(62))[0].note == played[1]  # the note-off closes what the key started
    assert m(off(62)) == []


def test_pads_steer_the_contour_and_stay_in_key():
    m = PadsMap(Key(7))
    notes = [m(on(36 + p))[0].note for p in (0, 2, 4, 7, 3, 3, 0)]
    assert all(n % 12 in Key(7).scale for n in notes)
    assert notes[1] > notes[0] and notes[2] > notes[1] and notes[3] > notes[2]
    assert notes[4] < notes[3] and notes[5] == notes[4] and notes[6] < notes[5]
    assert m(on(50)) == []  # not a pad


def test_one_finger_plays_the_diatonic_triad():
    m = ChordMap(Key(0))
    assert [x.note for x in m(on(62))] == [62, 65, 69]  # D minor in C
    assert [x.note for x in m(on(67))] == [67, 71, 74]  # G major
    assert sorted(x.note for x in m(off(67))) == [67, 71, 74]


def test_input_map_drives_the_engine_and_sounds_the_mapped_notes():
    from tests.helpers import sim_engine, sounding_after
    clock, eng, sink = sim_engine(tempo=120.0)
    eng.input_map = make_input_map("chord", Key(0))
    clock.call_at(1.0, eng.post_input, on(60), 1.0)
    clock.call_at(1.9, eng.post_input, off(60), 1.9)
    clock.run(until=3.0)
    eng.shutdown()
    player = sorted(e.data1 for _, e in sink.events if e.part == "player" and e.kind == "on")
    assert player == [60, 64, 67]
    assert [n.pitch for n in eng._player] == [60, 64, 67]
    assert sounding_after(sink) == set()


def test_unknown_map_and_key_are_clear_errors():
    with pytest.raises(ValueError, match="known: degrees, pads, chord"):
        make_input_map("theremin", Key(0))
    with pytest.raises(ValueError, match="unknown key"):
        parse_key("H")
    assert parse_key("F#m") == Key(6, True) and parse_key("A minor") == Key(9, True)
