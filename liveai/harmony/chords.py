"""Recognising chords: labelling pitch-class weights, the chord of pitches struck together, and
melody notes that clash with a chord. The chord type itself (ChordSymbol, its QUALITIES and
TRIAD_OF) lives in liveai.music.theory.

Recognition follows what arranger keyboards do with "Fingered" chords: any inversion, triads,
sixths, sevenths and suspensions; a note that fits no table is not a chord (the caller keeps the
chord it had).
"""
from __future__ import annotations

from liveai.music.theory import QUALITIES, ChordSymbol


# ----------------------------------------------------------------------------- templates

def _templates(qualities: tuple[str, ...]) -> tuple[list[ChordSymbol], "object"]:
    import numpy as np
    syms = [ChordSymbol(r, q) for q in qualities for r in range(12)]
    m = np.zeros((len(syms), 12))
    for i, c in enumerate(syms):
        m[i, list(c.pcs)] = 1.0
    return syms, m


LABEL_QUALITIES = ("maj", "min", "dim", "7", "m7", "maj7", "m7b5", "dim7")
_LABEL = _templates(LABEL_QUALITIES)
_SEVENTHS = {"7", "m7", "maj7", "m7b5", "dim7"}


def label_chord(weights, bass_pc: int | None = None, seventh_share: float = 0.12) -> ChordSymbol | None:
    """The chord that best explains pitch-class weights (e.g. durations of every voice in a beat):
    covered weight minus uncovered weight, a bonus when the bass note is the root, and a seventh
    quality only when its seventh really sounds (at least seventh_share of the weight). Used to
    label Bach's four voices with the chord the voice heads are trained on."""
    import numpy as np
    w = np.asarray(weights, float)
    total = w.sum()
    if total <= 0:
        return None
    syms, m = _LABEL
    covered = m @ w
    score = covered - (total - covered) - 0.15 * total * (m @ (w > 0) < 2)
    n_tones = m.sum(1)
    # a missing chord tone counts against it (a triad needs most of itself present)
    present = m @ (w > 0.05 * total)
    score -= 0.2 * total * (n_tones - present)
    if bass_pc is not None:
        roots = np.array([c.root for c in syms])
        score += 0.25 * total * (roots == bass_pc % 12)
    for i, c in enumerate(syms):
        if c.quality in _SEVENTHS:
            sev = c.pcs[3]
            if w[sev] < seventh_share * total:
                score[i] = -np.inf
    i = int(np.argmax(score))
    return syms[i] if np.isfinite(score[i]) else None


# interval sets of played chords (relative to the root) -> quality, for recognition
_PLAYED: dict[frozenset[int], str] = {frozenset(v[0]): q for q, v in QUALITIES.items()}
_PLAYED.update({
    frozenset((0, 4)): "maj", frozenset((0, 3)): "min", frozenset((0, 7)): "maj",  # dyads
    frozenset((0, 4, 10)): "7", frozenset((0, 3, 10)): "m7", frozenset((0, 4, 11)): "maj7",  # shells
    frozenset((0, 10, 4, 7, 2)): "7", frozenset((0, 4, 7, 2)): "maj", frozenset((0, 3, 7, 2)): "min",  # add9
})


def clashes(pc: int, chord: ChordSymbol) -> bool:
    """A melody pitch class a band hears as wrong against the chord: a half step above one of its
    tones (the avoid-note rule: F over C, Ab over C minor, B over C7). Other tones outside the chord
    (a ninth, a sixth, a sharp eleventh, a major seventh over a major chord) are colour, not a reason
    to change the chord."""
    pc %= 12
    tones = chord.pcs
    return pc not in tones and any((pc - t) % 12 == 1 for t in tones)


def recognize(pitches) -> ChordSymbol | None:
    """The chord of notes struck together, as an arranger keyboard's "Fingered" mode hears it: any
    inversion (the lowest note becomes the bass of a slash chord), triads, sixths, sevenths, sus,
    shells and power chords. A melody note struck on top of a chord is left out if the rest is a
    chord. None for an unrecognised cluster (the caller keeps the chord it had)."""
    ps = sorted({int(p) for p in pitches})
    if len(ps) < 2:
        return None
    for notes in (ps, ps[:-1]) if len(ps) >= 4 else (ps,):
        pcs = {p % 12 for p in notes}
        low = notes[0] % 12
        found = []
        for root in pcs:
            q = _PLAYED.get(frozenset((pc - root) % 12 for pc in pcs))
            if q is not None:
                found.append(ChordSymbol(root, q))
        if not found:
            continue
        # the lowest note as root wins (C6 over Am7/C when C is in the bass); then triads first
        order = list(QUALITIES)
        found.sort(key=lambda c: (c.root != low, order.index(c.quality)))
        c = found[0]
        if len(pcs) == 2 and (notes[-1] - notes[0]) % 12 == 5:  # a fourth: root on top
            c = ChordSymbol(notes[-1] % 12, "maj")
        return c if c.root == low else ChordSymbol(c.root, c.quality, low)
    return None
