"""Chord-annotated songs from music21's corpus as evaluation cases (needs the train extra: music21).

The tunes of liveai.evaluation.annotated were written for liveai, and the planner's settings were
chosen on them; these were not: the two lead sheets music21 ships (Berlin's "Alexander's Ragtime
Band", Foster's "Jeanie with the Light Brown Hair") and the two Nottingham Music Database tunes in
its corpus (ABC with guitar chords). Repeats are written out; the tune is cut to its first bar
line where a note starts (the demo's grid starts at the first note, so a pickup is dropped), and
short bars inside the tune are moved to end on a bar line, so bar lines fall where the grid puts
them. Every chord symbol is reduced to its triad for the
scoring, as for the other tunes. They are harder than liveai's tunes (ragtime chromaticism, reels
in running 8ths), so their figures are a check on over-fitting, not a target.
"""
from __future__ import annotations

from typing import Any

from liveai.evaluation.harmony import Note
from liveai.evaluation.annotated import chords_from_markers
from liveai.music.theory import NOTE_NAMES, ChordSymbol

SOURCES = ("leadSheet/berlinAlexandersRagtime.mxl", "leadSheet/fosterBrownHair.mxl",
           "nottingham-dataset/reelsa-c.abc")
TEMPO = 100.0


def _quality(kind: str) -> str:
    """music21's chordKind as the triad liveai scores."""
    if kind.startswith("minor"):
        return "min"
    if kind.startswith("diminished") or kind.startswith("half-diminished"):
        return "dim"
    return "maj"


def _aligned_measures(measures: Any, bar_q: float) -> list[tuple[Any, float]]:
    """Each measure with where it starts (in quarters) on a grid of whole bars. Measures follow one
    another, except that a run of short measures (a pickup, an ending's short bar, a pickup into
    the next section) is moved to end on a bar line when a full bar follows it: written repeats
    leave such runs inside a tune, and without this every later bar line would fall off the grid."""
    out: list[tuple[Any, float]] = []
    cursor, run = 0.0, []  # run: indexes into out of the short measures since the last bar line
    for m in measures:
        length = float(m.duration.quarterLength)
        full = length >= bar_q - 1e-6
        if full and run and cursor % bar_q > 1e-6:
            shift = bar_q - cursor % bar_q
            for i in run:
                out[i] = (out[i][0], out[i][1] + shift)
            cursor += shift
        run = [] if full or cursor % bar_q < 1e-6 else run
        out.append((m, cursor))
        if not full:
            run.append(len(out) - 1)
        cursor += length
        if cursor % bar_q < 1e-6:
            run = []
    return out


def score_case(score: Any, key: str, title: str):
    """One case from a music21 score with chord symbols, or None when it has no melody or chords."""
    from music21 import harmony, note
    from liveai.evaluation.runner import Case
    try:
        score = score.expandRepeats()
    except Exception:  # noqa: BLE001 - no repeats to expand, or music21 cannot: keep as written
        pass
    parts = score.parts if len(getattr(score, "parts", ())) else [score]
    sigs = score.flatten().getElementsByClass("TimeSignature")
    if not len(sigs):
        return None
    bar_q = float(sigs[0].barDuration.quarterLength)
    spb = int(round(bar_q * 4))
    if spb % 4:
        return None
    melody: list[Note] = []
    changes: list[tuple[int, ChordSymbol]] = []
    for m, start_q in _aligned_measures(parts[0].getElementsByClass("Measure"), bar_q):
        for el in m.recurse().notesAndRests:
            q = start_q + float(el.getOffsetInHierarchy(m))
            start = int(round(q * 4))
            if isinstance(el, harmony.ChordSymbol):
                if el.root() is not None:
                    changes.append((start, ChordSymbol(el.root().pitchClass, _quality(el.chordKind or "major"))))
            elif isinstance(el, note.Note):
                end = int(round((q + float(el.quarterLength)) * 4))
                if end > start:
                    melody.append(Note(el.pitch.midi, start, end, "melody"))
    if not melody or not changes:
        return None
    # the demo starts its grid at the first note: cut to the first bar line where a note starts
    starts = {n.start for n in melody}
    cut = next((b for b in range(0, max(starts) + 1, spb) if b in starts), None)
    if cut is None:
        return None
    before = [c for c in changes if c[0] <= cut]
    changes = ([(0, before[-1][1])] if before else []) + [(s - cut, c) for s, c in changes if s > cut]
    melody = [Note(n.pitch, n.start - cut, n.end - cut, n.part) for n in melody if n.start >= cut]
    total = max(n.end for n in melody)
    total += -total % spb
    chords = chords_from_markers(sorted(changes, key=lambda c: c[0]), total)
    markers, prev = [], None
    for k, c in enumerate(chords):
        if c is not None and c != prev:
            markers.append((k, c))
        prev = c
    ks = score.analyze("key")
    tonic, minor = ks.tonic.pitchClass, ks.mode == "minor"
    return Case(key, f"{title} ({NOTE_NAMES[tonic]}{'m' if minor else ''})", spb // 4, TEMPO, tonic, minor,
                sorted(melody, key=lambda n: n.start), chords, markers)


def leadsheet_cases() -> list:
    """The corpus's chord-annotated songs as cases (see the module docstring)."""
    from music21 import corpus
    out = []
    for src in SOURCES:
        parsed = corpus.parse(src)
        scores = list(parsed.scores) if hasattr(parsed, "scores") else [parsed]
        for i, sc in enumerate(scores):
            stem = src.rsplit("/", 1)[-1].split(".")[0]
            title = (sc.metadata.title if sc.metadata is not None and sc.metadata.title else stem)
            case = score_case(sc, f"song-{stem}{i if len(scores) > 1 else ''}", title)
            if case is not None:
                out.append(case)
    return out
