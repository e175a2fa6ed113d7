"""The committed derived set: it loads, its splits hold, its chords are real songs' chords."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from liveai.corpus.realsongset import DEFAULT_PATH, _save, load
from liveai.corpus.songgrid import Song, note_in_chord_share


def test_committed_set_loads_with_both_sources_and_splits() -> None:
    rs = load(DEFAULT_PATH)
    ids = [str(s) for s in rs.song_id]
    assert len(rs.indices("val", "pop909")) > 100 and len(rs.indices("val", "cmd")) > 50
    assert len(rs.indices("train")) > 1500
    nums = {int(s.split("/")[1].split("@")[0]) for s in ids if s.startswith("pop909/")}
    assert max(nums) <= 800, "POP909 801-909 are held out"
    assert all(str(rs.split[i]) == "val" for i, s in enumerate(ids)
               if s.startswith("pop909/") and int(s.split("/")[1][:3]) >= 721)
    share = note_in_chord_share(rs.mel, rs.root, rs.quality)
    assert 0.6 < share < 0.8, "real melodies sit on a chord tone about 0.7 of the time"
    song = rs.song(0)
    assert len(song) == rs.offsets[1] - rs.offsets[0] and len(song) % song.steps_per_bar == 0


def test_save_load_round_trip(tmp_path: Path) -> None:
    T = 32
    mel = np.zeros(T, np.int8)
    mel[::4] = 60
    s = Song("cmd/x", mel, (mel > 0).astype(np.uint8), np.zeros(T, np.int8), np.zeros(T, np.int8),
             np.zeros(T, np.int8), 100.0, 0, 0, "val")
    _save([s, s], tmp_path / "x.npz")
    rs = load(tmp_path / "x.npz")
    assert len(rs) == 2 and list(rs.offsets) == [0, 32, 64]
    assert rs.song(1).split == "val" and note_in_chord_share(rs.mel, rs.root, rs.quality) == 1.0
