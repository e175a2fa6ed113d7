"""Reference accompanists: the lines every table is read against.

- ceiling: block triads of the true chord (close, root in the bass, held for each chord): what
  an accompanist that knew the chords would play at the least;
- drone: the tune's tonic triad held all through: the floor any accompanist must clear;
- Bach: for chorales, Bach's own alto, tenor and bass (see liveai.evaluation.chorales).
Each returns grid notes with parts bass, tenor and alto (so four-part checks apply).
"""
from __future__ import annotations

from typing import Any, Sequence

from liveai.evaluation.harmony import Note, triad_key, triad_pcs
from liveai.music.theory import close_voicing

PARTS = ("bass", "tenor", "alto")


def _close_triad(root: int, quality: str, low: int = 48) -> list[int]:
    """Root position close triad with the root in octave 3 (C3 = 48 .. B3)."""
    return close_voicing(low + root % 12, triad_pcs(root, quality))


def ceiling(chords: Sequence[Any]) -> list[Note]:
    """Block triads of the true chord: struck at every chord change, held until the next; a
    seventh chord plays its triad. Steps with no chord are silent."""
    out: list[Note] = []
    k, T = 0, len(chords)
    while k < T:
        ch = chords[k]
        e = k + 1
        while e < T and chords[e] == ch:
            e += 1
        if ch is not None:
            for part, p in zip(PARTS, _close_triad(*triad_key(ch))):
                out.append(Note(p, k, e, part))
        k = e
    return out


def drone(tonic: int, minor: bool, total: int) -> list[Note]:
    """The tonic triad (minor or major) held from the first step to the end."""
    q = "min" if minor else "maj"
    return [Note(p, 0, total, part) for part, p in zip(PARTS, _close_triad(tonic, q))]
