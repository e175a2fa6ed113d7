"""Real songs as evaluation cases: the cut, the chords per step, the late reference, note-in-chord."""
from __future__ import annotations

import numpy as np

from liveai.evaluation.harmony import Note, note_in_chord_steps, score
from liveai.evaluation.realsongs import LATE_STEPS, case_of_song, real_cases, song_melody
from liveai.music.theory import ChordSymbol
from liveai.harmony.chordvocab import QUALITIES
from liveai.corpus.realsongset import SongView


def _view() -> SongView:
    """Bar 0 empty but for a pickup on its last beat, then C | G7/B | C, a note a beat."""
    T = 64
    mel = np.zeros(T, np.int8)
    onset = np.zeros(T, np.uint8)
    mel[12:16] = 67
    onset[12] = 1
    for k in range(16, 64, 4):
        mel[k:k + 4] = 60 + (k // 4) % 5
        onset[k] = 1
    root = np.array([0] * 32 + [7] * 16 + [0] * 16, np.int8)
    qual = np.array([0] * 32 + [QUALITIES.index("7")] * 16 + [0] * 16, np.int8)
    bass = np.array([0] * 32 + [11] * 16 + [0] * 16, np.int8)
    return SongView("pop909/750", "val", mel, onset, root, qual, bass, 96.0, 0, 0, 16)


def test_case_cut_to_the_first_bar_with_a_note_and_chords_per_step() -> None:
    c = case_of_song(_view())
    assert c is not None and c.total == 48 and c.beats == 4 and c.tempo == 96.0
    assert c.player[0] == Note(60 + 4 % 5, 0, 4, "melody")
    assert c.chords[0] == ChordSymbol(0, "maj") and c.chords[16] == ChordSymbol(7, "7", 11)
    assert c.markers[:2] == [(0, ChordSymbol(0, "maj")), (16, ChordSymbol(7, "7", 11))]
    late = c.extra_refs["late"]
    assert min(n.start for n in late) == LATE_STEPS
    assert {n.pitch % 12 for n in late if n.start == 16 + LATE_STEPS} == {7, 11, 2}


def test_melody_notes_split_at_onsets() -> None:
    mel = np.array([60, 60, 60, 60, 0, 62, 62], np.int8)
    onset = np.array([1, 0, 1, 0, 0, 1, 0], np.uint8)
    assert song_melody(mel, onset) == [Note(60, 0, 2, "melody"), Note(60, 2, 4, "melody"), Note(62, 5, 7, "melody")]


def test_note_in_chord_counts_melody_steps_on_the_bands_chord() -> None:
    player = [Note(64, 0, 4), Note(62, 4, 8)]  # E then D
    band = [Note(48, 0, 8), Note(52, 0, 8), Note(55, 0, 8)]  # C major for two beats
    assert note_in_chord_steps(player, band, 8) == [1.0] * 4 + [0.0] * 4
    s7 = band + [Note(58, 4, 8)]  # a B-flat in the second beat: C7 there, D still not in it
    assert note_in_chord_steps([Note(70, 4, 8)], s7, 8) == [1.0] * 4
    chords = [ChordSymbol(0)] * 32
    assert score(player, band, chords, 16)["note_in_chord"] == 0.0  # bar 1 is skipped: nothing sounds


def test_the_committed_validation_songs_make_cases() -> None:
    cases = real_cases(2, bars=8)
    assert len(cases) == 4
    for c in cases:
        assert c.total <= 8 * c.steps_per_bar and c.player and "late" in c.extra_refs
        assert c.title.split("/")[0] in ("pop909", "cmd")
        assert sum(ch is not None for ch in c.chords) > c.total // 2
