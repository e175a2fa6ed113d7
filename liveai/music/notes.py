"""The player's notes on the grid: the one note type listening, theory and the generators share.

It lives under music/ (not generators/) so that pure musical logic (theory, tunes, the chord
planner) can use it without importing any generator.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

STEPS_PER_BEAT = 4  # the grid is 16th notes


@dataclass(frozen=True, slots=True)
class PlayerNote:
    """A note the player played, placed on the grid. end_step is None while it still sounds.
    time: when it was struck (seconds on the engine's clock; 0 if unknown), which tells notes
    struck together (a chord) from notes played one after another within the same 16th."""

    pitch: int
    velocity: int
    start_step: int
    end_step: int | None = None
    time: float = 0.0


def visible_player(notes: Sequence[PlayerNote], known_until: int) -> list[PlayerNote]:
    """The player's notes as known once input up to step known_until is complete."""
    out = []
    edge = known_until + 1
    for n in notes:
        if n.start_step > known_until:
            break
        e = n.end_step
        # a note whose end is not known yet is shown still sounding (notes are immutable: the
        # others are shown as they are, not copied: this runs every step over hundreds of notes)
        out.append(n if e is None or e <= edge else PlayerNote(n.pitch, n.velocity, n.start_step, None, n.time))
    return out


def notes_from_frames(mel: Sequence[int], onset: Sequence[int]) -> list[PlayerNote]:
    """Melody notes from a per-step pitch (0: rest) and onset flags."""
    out: list[PlayerNote] = []
    start, pitch = None, 0
    for t in range(len(mel) + 1):
        p = int(mel[t]) if t < len(mel) else 0
        new = t < len(mel) and p > 0 and (bool(onset[t]) or p != pitch)
        if start is not None and (p != pitch or new or t == len(mel)):
            out.append(PlayerNote(pitch, 80, start, t))
            start = None
        if new:
            start, pitch = t, p
        elif p == 0:
            pitch = 0
    return out
