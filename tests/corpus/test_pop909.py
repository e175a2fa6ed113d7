"""POP909 reader: chord labels, the tempo map, bars from downbeats, the held-out songs refused."""
from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from liveai.harmony.chordvocab import QUALITIES
from liveai.corpus.pop909 import parse_pop909_label, pop909_songs


def test_labels() -> None:
    assert parse_pop909_label("C:maj") == (0, "maj", 0)
    assert parse_pop909_label("Bb:min7/b7") == (10, "m7", 8)
    assert parse_pop909_label("F#:hdim7") == (6, "m7b5", 6)
    assert parse_pop909_label("G:sus4(b7)") == (7, "sus4", 7)
    assert parse_pop909_label("D:maj/3") == (2, "maj", 6)
    assert parse_pop909_label("N") is None
    assert parse_pop909_label("X") is None


def _song(tmp: Path, name: str = "005") -> Path:
    """Eight 4/4 bars at 120 then 60 BPM (a tempo change in the file), beats annotated in seconds,
    a melody C D E F ... one note a beat, chords C | G per bar alternating."""
    d = tmp / name
    d.mkdir()
    mf = mido.MidiFile(ticks_per_beat=480)
    meta, mel = mido.MidiTrack(), mido.MidiTrack()
    mel.name = "MELODY"
    mf.tracks += [meta, mel]
    meta.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=1000000, time=16 * 480))  # bar 5 on: 60 BPM
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    for i in range(32):
        mel.append(mido.Message("note_on", note=scale[i % 8], velocity=90, time=0))
        mel.append(mido.Message("note_off", note=scale[i % 8], velocity=0, time=480))
    beat_t = [0.5 * i for i in range(16)] + [8.0 + 1.0 * i for i in range(16)]
    (d / "beat_midi.txt").write_text("".join(f"{t:.3f} 1.0 {1.0 if i % 4 == 0 else 0.0}\n"
                                             for i, t in enumerate(beat_t)))
    bars = [(beat_t[4 * b], beat_t[4 * b] + (2.0 if b < 4 else 4.0)) for b in range(8)]
    (d / "chord_midi.txt").write_text("".join(f"{a:.3f} {b:.3f} {'C:maj' if k % 2 == 0 else 'G:7'}\n"
                                              for k, (a, b) in enumerate(bars)))
    (d / "key_audio.txt").write_text("0.0 40.0 C:maj\n")
    mf.save(d / f"{name}.mid")
    return d


def test_song_on_the_grid_through_a_tempo_change(tmp_path: Path) -> None:
    (song,) = pop909_songs(_song(tmp_path))
    assert len(song.mel) == 8 * 16
    onsets = np.flatnonzero(song.onset)
    assert list(onsets) == list(range(0, 128, 4)), "one note a beat, on the beat, before and after the change"
    assert song.mel[4 * 16 * 1] == 60 and song.mel[4 * 17] == 62
    assert song.mel[16 * 5 + 4] == 69  # beat 21 (60 BPM): A, the tempo map followed
    assert song.root[0] == 0 and QUALITIES[song.quality[0]] == "maj"
    assert song.root[16] == 7 and QUALITIES[song.quality[16]] == "7"
    assert song.root[16 * 5] == 7 and song.root[16 * 6] == 0
    assert song.split == "train" and (song.key_tonic, song.key_minor) == (0, 0)


def test_held_out_songs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="held out"):
        pop909_songs(tmp_path / "801")
    with pytest.raises(ValueError, match="held out"):
        pop909_songs(tmp_path / "909")
