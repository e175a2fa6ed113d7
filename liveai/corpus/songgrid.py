"""Real songs on a 16th-note grid: the record every reader fills, and helpers they share.

A song is one array per step (melody pitch, onset, chord root, quality, bass), with its key and
tempo; quality indexes liveai.harmony.chordvocab.QUALITIES, -1 is no chord, a melody of 0 is rest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liveai.harmony.chordvocab import QUALITIES
from liveai.music.theory import LETTER_PCS, QUALITIES as CHORD_TABLE

Q_INDEX = {q: i for i, q in enumerate(QUALITIES)}
STEPS_PER_BEAT = 4
STEPS_PER_BAR = 16

PC_OF_NAME = LETTER_PCS  # the one table of letter names (liveai.music.theory)


def pc_of(name: str) -> int:
    """Pitch class of a note name such as "Bb", "C#", "Gb", "F##"."""
    name = name.strip()
    pc = PC_OF_NAME[name[0].upper()]
    for ch in name[1:]:
        pc += {"#": 1, "b": -1, "s": 1}.get(ch, 0)
    return pc % 12


def chord_tones(root: int, quality: str) -> tuple[int, ...]:
    return tuple((root + i) % 12 for i in CHORD_TABLE[quality][0])


@dataclass
class Song:
    """One song (or one regular stretch of it) on the grid."""
    song_id: str
    mel: np.ndarray      # int8 [T]
    onset: np.ndarray    # uint8 [T]
    root: np.ndarray     # int8 [T]
    quality: np.ndarray  # int8 [T]
    bass: np.ndarray     # int8 [T]
    tempo: float
    key_tonic: int
    key_minor: int
    split: str
    steps_per_bar: int = STEPS_PER_BAR


def empty_arrays(T: int):
    return (np.zeros(T, np.int8), np.zeros(T, np.uint8), np.full(T, -1, np.int8),
            np.full(T, -1, np.int8), np.full(T, -1, np.int8))


def place_notes(mel, onset, notes) -> None:
    """notes: (start step, end step, pitch, is_onset); later (and, at one start, higher) wins."""
    T = len(mel)
    for s, e, p, on in sorted(notes, key=lambda n: (n[0], n[2])):
        if s >= T or e <= 0:
            continue
        e = max(e, s + 1)
        mel[max(s, 0):min(e, T)] = p
        if on and s >= 0:
            onset[s] = 1


def note_in_chord_share(mel, root, quality) -> float:
    """Share of melody steps with a chord whose pitch class is a chord tone."""
    m = (mel > 0) & (root >= 0)
    if not m.any():
        return float("nan")
    hit = 0
    pcs = mel[m].astype(int) % 12
    for qi, q in enumerate(QUALITIES):
        iv = np.array(CHORD_TABLE[q][0])
        sel = quality[m] == qi
        rel = (pcs[sel] - root[m][sel].astype(int)) % 12
        hit += int(np.isin(rel, iv).sum())
    return hit / int(m.sum())
