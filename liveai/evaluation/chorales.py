"""Held-out Bach chorales as evaluation cases (needs the train extra: music21 and the chorale cache).

The chorales are the training test split (liveai.corpus.pieces.split_pieces, seed 1234), so the
model never saw them. The player plays the soprano; the true chord of every beat is the triad that
Bach's four voices imply (liveai.evaluation.harmony.implied_chords; a beat with no single best
triad has no chord and is not scored), so the implied-chord figures measure agreement with Bach's
own harmony. Bach's alto, tenor and bass are a reference line of their own. A pickup is cut so the
soprano's first note falls on step 0 of a full bar, where the demo starts its grid.
"""
from __future__ import annotations

from typing import Any

from liveai.evaluation.harmony import Note, implied_chords
from liveai.music.theory import NOTE_NAMES, ChordSymbol

ROWS = ("soprano", "alto", "tenor", "bass")
TEMPO = 80.0


def piece_notes(piece: Any, start: int = 0) -> dict[str, list[Note]]:
    """Notes of each of the four voices from a liveai.corpus.pieces.Piece, steps shifted by -start."""
    out: dict[str, list[Note]] = {}
    for row, v in enumerate(ROWS):
        r, o = piece.roll[row], piece.onset[row]
        T = len(r)
        notes, k = [], start
        while k < T:
            if r[k] > 0:
                e = k + 1
                while e < T and r[e] == r[k] and not o[e]:
                    e += 1
                notes.append(Note(int(r[k]), k - start, e - start, v))
                k = e
            else:
                k += 1
        out[v] = notes
    return out


def first_downbeat(piece: Any) -> int:
    """The first bar line at which the soprano strikes a note (after any pickup)."""
    spb = piece.steps_per_bar
    for k in range(0, piece.length, spb):
        if piece.onset[0, k]:
            return k
    return 0


def chorale_case(piece: Any):
    from liveai.evaluation.runner import Case
    start = first_downbeat(piece)
    parts = piece_notes(piece, start)
    T = piece.length - start
    T -= T % 4
    triads = implied_chords([n for v in ROWS for n in parts[v]], T)
    chords: list[ChordSymbol | None] = []
    for t in triads:
        ch = None if t is None else ChordSymbol(t[0], t[1])
        chords += [ch] * 4
    chords = chords[:T]
    markers, prev = [], object()
    for k, ch in enumerate(chords):
        if ch != prev and ch is not None:
            markers.append((k, ch))
        prev = ch
    first = next((t for t in triads if t is not None), (0, "maj"))
    last = next((t for t in reversed(triads) if t is not None), first)
    tonic = parts["bass"][-1].pitch % 12 if parts["bass"] else last[0]
    minor = first[1] == "min" and first[0] == tonic
    soprano = [Note(n.pitch, n.start, n.end, "melody") for n in parts["soprano"]]
    bach = [n for v in ROWS[1:] for n in parts[v]]
    name = piece.name.rsplit("/", 1)[-1]
    return Case(f"chorale-{name}", f"{piece.name} ({NOTE_NAMES[tonic]}{'m' if minor else ''})",
                piece.steps_per_bar // 4, TEMPO, tonic, minor, soprano, chords, markers,
                four_part=True, extra_refs={"bach": bach})


def held_out_chorales(n: int, split_seed: int = 1234) -> list[Any]:
    """The first n pieces (by name) of the training test split, 4/4 and 3/4 only."""
    from liveai.corpus import pieces as D
    _, _, test = D.split_pieces(D.load_chorales(), seed=split_seed)
    test = sorted((p for p in test if p.steps_per_bar in (12, 16)), key=lambda p: p.name)
    return test[:n]


def chorale_cases(n: int) -> list:
    return [chorale_case(p) for p in held_out_chorales(n)]
