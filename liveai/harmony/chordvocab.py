"""The chord model's vocabulary as data: classes, their pitch classes and their triads.

Shared by the chord model's runtime (liveai.neural.chordmodel), its training and the planner that
weighs its guesses, so the three can never disagree on what class 17 is.
Class = root * len(QUALITIES) + quality index; NO_CHORD is the last class.
"""
from __future__ import annotations

import numpy as np

from liveai.music.theory import ChordSymbol

QUALITIES = ("maj", "min", "dim", "aug", "sus4", "7", "maj7", "m7", "m7b5")
"""The model's chord qualities (names of liveai.music.theory.QUALITIES)."""
N_CHORDS = 12 * len(QUALITIES)
NO_CHORD = N_CHORDS
N_CLASSES = N_CHORDS + 1

_Q_INDEX = {q: i for i, q in enumerate(QUALITIES)}
# qualities liveai recognises that the model has no class of: the nearest one it has
_Q_FOLD = {"sus2": "maj", "dim7": "dim", "6": "maj", "m6": "min", "7sus4": "sus4", "mmaj7": "min"}
# each quality's triad, as the metrics and the planner's tables hear it (aug and sus as major)
_TRIAD = {"maj": 0, "min": 1, "dim": 2, "aug": 0, "sus4": 0, "7": 0, "maj7": 0, "m7": 1, "m7b5": 2}
TRIAD_NAMES = ("maj", "min", "dim")


def chord_index(chord: ChordSymbol | None) -> int:
    """The class of a chord (its quality folded into the vocabulary)."""
    if chord is None:
        return NO_CHORD
    q = _Q_FOLD.get(chord.quality, chord.quality)
    return (chord.root % 12) * len(QUALITIES) + _Q_INDEX.get(q, 0)


def index_chord(i: int, bass_interval: int = 0) -> ChordSymbol | None:
    """The chord of a class; bass_interval: the written bass above the root (0: none)."""
    if not 0 <= i < N_CHORDS:
        return None
    root, q = divmod(int(i), len(QUALITIES))
    bass = (root + bass_interval) % 12 if bass_interval % 12 else None
    return ChordSymbol(root, QUALITIES[q], bass)


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pcs = np.zeros((N_CLASSES, 12), np.float32)
    triad = np.full(N_CLASSES, -1, np.int64)
    group = np.zeros((N_CLASSES, 36), np.float32)
    for i in range(N_CHORDS):
        c = index_chord(i)
        assert c is not None
        pcs[i, list(c.pcs)] = 1.0
        triad[i] = c.root * 3 + _TRIAD[c.quality]
        group[i, triad[i]] = 1.0
    return pcs, triad, group


CLASS_PCS, TRIAD_OF_CLASS, TRIAD_GROUP = _tables()
"""Pitch classes of each class; its triad index (root * 3 + maj/min/dim, -1 for NO_CHORD); and
the [N_CLASSES, 36] matrix that sums class probabilities into triads (liveai.harmony.forms's
chord index)."""
