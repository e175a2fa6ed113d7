"""The renderer's pure functions: voicings, walking bass, arpeggios, restrikes on chord changes."""
from __future__ import annotations

import random

from liveai.band.stylerender import arp_pitch, bass_pitch, chord_voicing, render_part
from liveai.band.style import PartSpec
from liveai.music.theory import ChordSymbol

C, G7, AM = ChordSymbol(0), ChordSymbol(7, "7"), ChordSymbol(9, "min")
BASS = PartSpec((28, 52), walk="chromatic")


def test_voicings_use_only_chord_tones_inside_the_range():
    for kind in ("close", "open", "drop2", "shell"):
        for chord in (C, G7, AM):
            v = chord_voicing(chord, kind, 52, 76)
            assert all(p % 12 in chord.pcs for p in v) and 52 <= min(v) and max(v) <= 76, (kind, chord, v)
    assert {p % 12 for p in chord_voicing(G7, "shell", 52, 76)} == {7, 11, 5}  # root, third and seventh
    # a triad's shell keeps its root: E-G alone over a walking bass is heard as E minor, not C
    assert 0 in {p % 12 for p in chord_voicing(C, "shell", 52, 76)}
    close = chord_voicing(C, "close", 52, 76)
    assert max(close) - min(close) < 12
    assert max(chord_voicing(C, "open", 52, 76)) - min(chord_voicing(C, "open", 52, 76)) > 12


def test_close_voicing_moves_little_from_the_previous_chord():
    prev = chord_voicing(C, "close", 52, 76, (60, 64, 67))
    nxt = chord_voicing(AM, "close", 52, 76, prev)
    assert sum(abs(a - b) for a, b in zip(prev, nxt)) <= 3  # C E G -> C E A


def test_walking_bass_approaches_the_next_root_by_a_half_step():
    rng = random.Random(0)
    a = bass_pitch("A", C, G7, 40, BASS, rng)
    assert min(abs(a - 43), abs(a - 31)) == 1
    w = bass_pitch("W", C, G7, 36, BASS, rng)
    assert w % 12 in C.pcs and w != 36


def test_arpeggio_climbs_chord_tones():
    spec = PartSpec((55, 84), order="up", span=4)
    assert [arp_pitch(C, spec, i) for i in range(5)] == [60, 64, 67, 72, 60]


def test_a_held_note_is_restruck_when_the_chord_changes_under_it():
    rng = random.Random(0)
    held = render_part("bass", "-", 1, "R---", G7, None, BASS, (36,), False, False, 80, 1.0, rng, left=8)
    assert held.kind == "note" and held.pitches[0] % 12 == 7
    late = render_part("bass", "-", 1, "R---", G7, None, BASS, (36,), False, False, 80, 1.0, rng, left=2)
    assert late.kind == "hold"  # an 8th before its next cell: not broken up
    kept = render_part("bass", "-", 1, "R---", AM, None, BASS, (36,), False, False, 80, 1.0, rng, left=8)
    assert kept.kind == "hold"
    drum = render_part("drums.kick", "X", 0, "X...", None, None, None, (), True, True, 80, 1.0, rng, 36)
    assert drum.kind == "note" and drum.pitches == (36,)
