"""Naming the chord a set of notes sounds, for pictures of takes (pure functions on pitch classes).

A small template matcher: every root and quality of liveai.music.theory.QUALITIES is scored by
how much of the sounding weight (duration x velocity per pitch class) falls on its chord tones,
less what falls outside them and less its missing tones; a root in the bass breaks ties, and
plain triads win over richer chords that explain no more. Good enough to label a piano roll;
the harmony package's own recogniser (the lead's) replaces it where present.
"""
from __future__ import annotations

import re
from typing import Mapping

from liveai.music.theory import LETTER_PCS, NOTE_NAMES, QUALITIES, ChordSymbol

_SIMPLE = ("maj", "min", "dim", "aug", "7", "m7", "maj7", "sus4", "sus2", "m7b5", "dim7", "6", "m6")
_PC = LETTER_PCS
_BY_SUFFIX = sorted(((suffix, q) for q, (_, suffix) in QUALITIES.items()), key=lambda x: -len(x[0]))
_ALIASES = {"M": "maj", "maj": "maj", "min": "min", "-": "min", "mi": "min", "M7": "maj7", "Δ": "maj7",
            "ø": "m7b5", "o": "dim", "o7": "dim7", "+": "aug", "sus": "sus4", "-7": "m7", "dom7": "7"}


def _templates() -> tuple[tuple[int, str, tuple[int, ...], float, float], ...]:
    """(root, quality, chord tones, size penalty, sus penalty) for every candidate, in the order
    they are tried (the first of equal scores wins): built once, not at every bar."""
    out = []
    for q in _SIMPLE:
        ivs = QUALITIES[q][0]
        for root in range(12):
            out.append((root, q, tuple((root + i) % 12 for i in ivs), 0.08 * (len(ivs) - 3),
                        0.05 if q.startswith("sus") else 0.0))
    return tuple(out)


_TEMPLATES = _templates()


def recognise(weights: Mapping[int, float], bass: int | None = None, min_weight: float = 1e-9) -> ChordSymbol | None:
    """The chord that best explains pitch-class weights; None when nothing sounds or no chord
    explains at least half of it. bass: the lowest pitch class sounding (names an inversion)."""
    total = sum(w for w in weights.values() if w > 0)
    if total <= min_weight:
        return None
    w = [max(0.0, float(weights.get(pc, 0.0))) / total for pc in range(12)]
    faint = [x < 0.02 for x in w]
    best, best_score = None, float("-inf")
    for root, q, tones, size, sus in _TEMPLATES:  # a bar of a long take: keep this loop lean
        inside = 0
        missing = 0
        for t in tones:
            inside += w[t]
            missing += faint[t]
        score = inside - 0.9 * (1.0 - inside) - 0.25 * missing - size - sus
        score += 0.06 if bass == root else 0.0
        score += 0.02 * w[root]
        if score > best_score:
            best, best_score = (root, q, inside), score
    if best is None or best[2] < 0.5:
        return None
    root, q, _ = best
    return ChordSymbol(root, q, bass if bass is not None and bass != root and bass in
                       [(root + i) % 12 for i in QUALITIES[q][0]] else None)


def parse_chord(name: str) -> ChordSymbol:
    """'Am7', 'F#', 'Bb7/D', 'Cmaj7', 'Ebm(maj7)' -> ChordSymbol; ValueError for anything else."""
    m = re.fullmatch(r"\s*([A-Ga-g])([#b♯♭]?)(.*?)(?:/([A-Ga-g])([#b♯♭]?))?\s*", name)
    if not m:
        raise ValueError(f"not a chord symbol: {name!r}")

    def pc(letter: str, acc: str) -> int:
        return (_PC[letter.upper()] + (1 if acc in "#♯" and acc else -1 if acc in "b♭" and acc else 0)) % 12

    root = pc(m.group(1), m.group(2))
    rest = m.group(3)
    quality = _ALIASES.get(rest)
    if quality is None:
        quality = next((q for suffix, q in _BY_SUFFIX if suffix == rest), None)
    if quality is None:
        raise ValueError(f"not a chord symbol: {name!r} (unknown quality {rest!r})")
    bass = pc(m.group(4), m.group(5)) if m.group(4) else None
    return ChordSymbol(root, quality, bass)


def chord_name(ch: ChordSymbol | None) -> str:
    return "" if ch is None else ch.name


__all__ = ["recognise", "parse_chord", "chord_name", "NOTE_NAMES"]
