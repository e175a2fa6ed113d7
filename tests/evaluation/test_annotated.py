"""The annotated tunes: a set that covers what issue 13 asks, well-formed data, left-hand chords
that sound the chord below the melody, and chord markers that survive a MIDI round trip."""
import mido
import pytest

from liveai.evaluation.harmony import triad_key
from liveai.evaluation.annotated import (TUNES, AnnotatedTune, chords_from_markers, parse_chord, read_chord_markers)
from liveai.music.theory import ChordSymbol
from liveai.music.tunes import PLAIN_TUNES, TUNES as DEMO_TUNES


def test_parse_chord_round_trips_every_name():
    for root in range(12):
        for q in ("maj", "min", "dim", "7", "maj7", "m7", "m7b5", "dim7", "6", "sus4"):
            ch = ChordSymbol(root, q)
            assert parse_chord(ch.name) == ch
    assert parse_chord("C/E") == ChordSymbol(0, "maj", 4)
    assert parse_chord("Bb-7") == ChordSymbol(10, "m7")
    for bad in ("H", "Cxyz", "C/E7", ""):
        with pytest.raises(ValueError):
            parse_chord(bad)


def test_the_set_covers_the_issue():
    tunes = list(TUNES.values())
    assert len(tunes) >= 10
    assert {t.beats for t in tunes} >= {3, 4}
    assert any(t.minor for t in tunes) and any(not t.minor for t in tunes)
    assert any(t.minor and t.beats == 3 for t in tunes)  # a minor waltz
    names = {t.key: {c.name for c in t.chord_steps()} for t in tunes}
    # a blues: dominant sevenths on I, IV and V
    assert any({"C7", "F7", "G7"} <= n for n in names.values())
    # a ii-V-I with sevenths
    assert any(any({f"{a}m7", f"{b}7", f"{c}maj7"} <= n for a, b, c in (("G", "C", "F"), ("D", "G", "C")))
               for n in names.values())
    # a pop I-V-vi-IV in order
    assert any("G D Em C" in " ".join(t.chords.replace("|", " ").split()) for t in tunes)
    # a chord on every beat somewhere
    assert any(any(e - s == 4 for s, e, _ in t.segments) for t in tunes)
    # not the demo's or the plain tunes' melodies
    theirs = {" ".join(x.melody.split()) for x in list(PLAIN_TUNES.values()) + list(DEMO_TUNES.values())}
    assert not any(" ".join(t.melody.split()) in theirs for t in tunes)


@pytest.mark.parametrize("tune", list(TUNES.values()), ids=list(TUNES))
def test_tune_is_well_formed(tune: AnnotatedTune):
    notes, chords = tune.notes, tune.chord_steps()
    assert notes[0].start == 0  # the demo starts its grid on the first note
    assert max(n.end for n in notes) == tune.total_steps == len(chords)
    assert tune.total_steps % tune.steps_per_bar == 0
    assert all(s % 4 == 0 for s, _, _ in tune.segments)  # chords change on beats
    # a musician's melody: most notes on the beat are chord tones, some are not
    on_beat = [n for n in notes if n.start % 4 == 0]
    share = sum(n.pitch % 12 in chords[n.start].pcs for n in on_beat) / len(on_beat)
    assert share >= 0.85
    assert all(triad_key(c)[1] in ("maj", "min", "dim") for c in chords)


@pytest.mark.parametrize("tune", list(TUNES.values()), ids=list(TUNES))
def test_left_hand_sounds_each_chord_below_the_melody(tune: AnnotatedTune):
    lh = tune.left_hand()
    chords = tune.chord_steps()
    assert max(n.pitch for n in lh) < min(n.pitch for n in tune.notes)
    assert all(41 <= n.pitch <= 60 for n in lh)
    for k in range(tune.total_steps):
        pcs = {n.pitch % 12 for n in lh if n.start <= k < n.end}
        assert pcs == set(chords[k].pcs), (k, chords[k].name)
    changes = {s for s, _ in tune.markers()}
    assert {n.start for n in lh} == changes  # struck on chord changes only, then held


@pytest.mark.parametrize("variant", ["melody", "chords"])
def test_markers_round_trip(tmp_path, variant):
    tune = TUNES["jazz-f"]
    path = tune.write_midi(tmp_path / "t.mid", variant)
    marks, spb, total = read_chord_markers(path)
    assert spb == 16 and total == tune.total_steps
    assert [m[0] for m in marks] == [s for s, _ in tune.markers()]
    assert chords_from_markers(marks, total) == tune.chord_steps()
    mf = mido.MidiFile(str(path))
    texts = [m.text for m in mf.tracks[0] if m.type == "marker"]
    assert texts[:3] == ["Gm7", "C7", "Fmaj7"]
    n_notes = sum(1 for tr in mf.tracks for m in tr if m.type == "note_on" and m.velocity > 0)
    assert n_notes == len(tune.player(variant))


def test_markers_read_relative_to_the_first_note(tmp_path):
    """A file whose first note comes after a bar of silence: the demo starts there, so do the markers."""
    mf = mido.MidiFile(type=0, ticks_per_beat=480)
    tr = mido.MidiTrack()
    tr += [mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0),
           mido.MetaMessage("marker", text="Am", time=1440),
           mido.Message("note_on", note=69, velocity=80, time=0),
           mido.MetaMessage("marker", text="E7", time=1440),
           mido.Message("note_off", note=69, velocity=0, time=0)]
    mf.tracks.append(tr)
    mf.save(str(tmp_path / "x.mid"))
    marks, spb, total = read_chord_markers(tmp_path / "x.mid")
    assert spb == 12 and marks == [(0, ChordSymbol(9, "min")), (12, ChordSymbol(4, "7"))] and total == 12
