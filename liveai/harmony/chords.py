"""Chord symbols as data: qualities as interval tables, names, and recognising a set of pitches.

Recognition follows what arranger keyboards do with "Fingered" chords: any inversion, triads,
sixths, sevenths and suspensions; a note that fits no table is not a chord (the caller keeps the
chord it had).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

# quality -> (intervals above the root, suffix). Triads first: the plan's vocabulary.
QUALITIES: dict[str, tuple[tuple[int, ...], str]] = {
    "maj": ((0, 4, 7), ""),
    "min": ((0, 3, 7), "m"),
    "dim": ((0, 3, 6), "dim"),
    "aug": ((0, 4, 8), "aug"),
    "sus4": ((0, 5, 7), "sus4"),
    "sus2": ((0, 2, 7), "sus2"),
    "7": ((0, 4, 7, 10), "7"),
    "maj7": ((0, 4, 7, 11), "maj7"),
    "m7": ((0, 3, 7, 10), "m7"),
    "m7b5": ((0, 3, 6, 10), "m7b5"),
    "dim7": ((0, 3, 6, 9), "dim7"),
    "6": ((0, 4, 7, 9), "6"),
    "m6": ((0, 3, 7, 9), "m6"),
    "7sus4": ((0, 5, 7, 10), "7sus4"),
    "mmaj7": ((0, 3, 7, 11), "m(maj7)"),
}
TRIAD_OF = {"maj": "maj", "min": "min", "dim": "dim", "aug": "aug", "sus4": "maj", "sus2": "maj",
            "7": "maj", "maj7": "maj", "m7": "min", "m7b5": "dim", "dim7": "dim", "6": "maj",
            "m6": "min", "7sus4": "maj", "mmaj7": "min"}


@dataclass(frozen=True, slots=True)
class ChordSymbol:
    """A chord: root pitch class, quality (a key of QUALITIES) and, for a played inversion or a
    slash chord, the pitch class in the bass."""

    root: int
    quality: str = "maj"
    bass: int | None = None

    def __post_init__(self) -> None:
        if self.quality not in QUALITIES:
            raise ValueError(f"unknown chord quality {self.quality!r}")

    @property
    def pcs(self) -> tuple[int, ...]:
        """Chord tones as pitch classes, root first."""
        return tuple((self.root + i) % 12 for i in QUALITIES[self.quality][0])

    @property
    def triad(self) -> tuple[int, int, int]:
        """Root, third and fifth of the chord's triad (a sus chord counts as its major triad)."""
        ivs = QUALITIES[TRIAD_OF[self.quality]][0]
        return tuple((self.root + i) % 12 for i in ivs)  # type: ignore[return-value]

    @property
    def name(self) -> str:
        s = NOTE_NAMES[self.root % 12] + QUALITIES[self.quality][1]
        if self.bass is not None and self.bass != self.root:
            s += "/" + NOTE_NAMES[self.bass % 12]
        return s

    def __str__(self) -> str:
        return self.name
