"""The chord model's training material: songs of the derived set as class targets, and batches.

A song's chord per step becomes a class of liveai.harmony.chordvocab; the targets at each of the
model's horizons are taken relative to the key the melody has shown so far (its anchor), as the
runtime hears them; windows of songs, with the true chord sometimes given as "played", make a batch
(numpy arrays: the torch trainer and the numpy fine-tuner of `liveai learn` share them).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liveai.harmony.modelears import key_anchors
from liveai.music.notes import notes_from_frames
from liveai.neural import chordmodel as cm
from liveai.corpus.realsongset import split_of

IGNORE = -100


@dataclass
class Song:
    song_id: str
    mel: np.ndarray  # int8 pitch per frame, 0 = rest
    onset: np.ndarray  # uint8
    target: np.ndarray  # int64 class per frame (NO_CHORD where none)
    bass: np.ndarray  # int64 bass interval above the root per frame (IGNORE where none)
    steps_per_bar: int
    anchor: np.ndarray | None = None  # the model's reference pitch class per frame (key_anchors)

    def __post_init__(self) -> None:
        if self.anchor is None:
            self.anchor = key_anchors(notes_from_frames(self.mel, self.onset), len(self.mel))


def songs_from_npz(path: str | Path, split: str) -> list[Song]:
    """The songs of one split of the derived set (data/realsongs.npz): train, tune or val."""
    d = np.load(str(path), allow_pickle=False)
    off = d["offsets"]
    out = []
    for i in range(len(off) - 1):
        if split_of(str(d["song_id"][i]), str(d["split"][i])) != split:
            continue
        a, b = int(off[i]), int(off[i + 1])
        root = d["root"][a:b].astype(np.int64)
        q = d["quality"][a:b].astype(np.int64)
        bs = d["bass"][a:b].astype(np.int64)
        none = (root < 0) | (q < 0)
        target = np.where(none, cm.NO_CHORD, root * len(cm.QUALITIES) + q)
        bass = np.where(none, IGNORE, (bs - root) % 12)
        out.append(Song(str(d["song_id"][i]), d["mel"][a:b].astype(np.int64), d["onset"][a:b].astype(np.uint8),
                        target, bass, int(d["steps_per_bar"][i])))
    return out


def horizon_targets(target: np.ndarray, bass: np.ndarray, anchor: np.ndarray | None = None,
                    T: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """[T, HORIZONS] targets: the class at frame t+d relative to the anchor of frame t (where the
    guess is made), and the bass interval (IGNORE past the end, and where there is no chord: the
    model is not asked to predict silence). target and bass may run past T (the song goes on)."""
    T = len(target) if T is None else T
    n = len(target)
    Y = np.full((T, cm.HORIZONS), IGNORE, np.int64)
    B = np.full((T, cm.HORIZONS), IGNORE, np.int64)
    for d in range(cm.HORIZONS):
        m = min(T, n - d)
        if m <= 0:
            break
        y = target[d:d + m]
        if anchor is not None:
            y = cm.rotate_class(y, -anchor[:m])
        Y[:m, d] = np.where(y == cm.NO_CHORD, IGNORE, y)
        B[:m, d] = bass[d:d + m]
    return Y, B


def played_track(target: np.ndarray, rng: np.random.Generator, steps_per_bar: int) -> np.ndarray:
    """The true chord as 'played' over random stretches of a few bars (else -1)."""
    T = len(target)
    out = np.full(T, -1, np.int64)
    t = int(rng.integers(0, 4 * steps_per_bar))
    while t < T:
        n = int(rng.integers(2, 9)) * steps_per_bar
        seg = target[t:t + n]
        out[t:t + n] = np.where(seg == cm.NO_CHORD, -1, seg)
        t += n + int(rng.integers(2, 12)) * steps_per_bar
    return out


def make_batch(songs: list[Song], rng: np.random.Generator, batch: int, crop: int, p_played: float = 0.2,
               history: int = 0):
    """Windows of `crop` frames from random songs, each with up to `history` frames heard before it
    (a window model reads them; their targets are IGNORE, they were scored in another window)."""
    L = crop + history
    X = np.zeros((batch, L, cm.FEATURE_DIM), np.float32)
    Y = np.full((batch, L, cm.HORIZONS), IGNORE, np.int64)
    B = np.full((batch, L, cm.HORIZONS), IGNORE, np.int64)
    for b in range(batch):
        s = songs[int(rng.integers(len(songs)))]
        T = len(s.mel)
        spb = s.steps_per_bar
        # windows start on a bar line (the features' bar position is the song's)
        start = int(rng.integers(0, max(1, (T - crop) // spb + 1))) * spb if T > crop else 0
        # a share of windows start at the song's beginning: the model must also work from nothing
        if rng.random() < 0.15:
            start = 0
        end = min(T, start + crop)
        h0 = max(0, start - history)
        # (no transposition: the features are relative to the key heard, the same in every key)
        mel = s.mel[h0:end]
        tgt = s.target[h0:end]
        anc = s.anchor[h0:end]
        played = played_track(tgt, rng, spb) if rng.random() < p_played else None
        # the features' bar position counts from the first frame given: keep it on the song's grid
        lead = (h0 % spb)
        x = cm.encode_song(np.concatenate([np.zeros(lead, mel.dtype), mel]),
                           np.concatenate([np.zeros(lead, np.uint8), s.onset[h0:end]]), spb,
                           None if played is None else np.concatenate([np.full(lead, -1, played.dtype), played]),
                           np.concatenate([np.zeros(lead, anc.dtype), anc]))[lead:]
        n = end - h0
        y, bb = horizon_targets(s.target[h0:end + cm.HORIZONS], s.bass[h0:end + cm.HORIZONS], anc, n)
        k = start - h0  # frames of history: heard, not scored
        o = history - k  # right-align so every window's scored frames start at `history`
        X[b, o:o + n] = x
        Y[b, o + k:o + n] = y[k:n]
        B[b, o + k:o + n] = bb[k:n]
    return X, Y, B
