"""Harmony metrics of issue 13: how a musician hears an accompaniment against a tune's chords.

Pure functions on grid notes. A note is (pitch, start, end, part) on the 16th-note grid, sounding
on steps start..end-1. `chords` gives the annotated chord of every step (a ChordSymbol-like value
with root, quality, pcs and triad; None where there is no chord) and its length is the tune's
length in steps. Every metric skips the first bar (`start`, default one bar): the band cannot know
the tune before it has heard some of it.

Why several numbers: precision alone (the first model's objective) rewards doubling the melody's
own pitch class in three octaves, which empties the harmony. Recall, the chord the sound implies,
the number of distinct pitch classes, the echo of the melody and the bass at chord changes catch
that; none of them alone can be gamed without another one dropping.
"""
from __future__ import annotations

from typing import Any, Iterable, NamedTuple, Sequence


from liveai.evaluation.fourpart import USUAL_RANGES, voice_leading  # noqa: F401  (score's parallels; callers)
from liveai.music.theory import QUALITIES, TRIAD_OF

TRIAD_QUALITIES = ("maj", "min", "dim")
"""The triads the implied chord chooses from (the issue's definition)."""


class Note(NamedTuple):
    """A note on the grid: sounds on steps start..end-1; part is the voice or track name."""

    pitch: int
    start: int
    end: int
    part: str = ""


def as_note(n: Any, part: str = "") -> Note:
    """Note from a tuple, a Note, a GridNote (start/end/voice) or a PlayerNote (start_step/end_step)."""
    if isinstance(n, Note):
        return n
    if isinstance(n, tuple):
        return Note(int(n[0]), int(n[1]), int(n[2]), str(n[3]) if len(n) > 3 else part)
    if hasattr(n, "start_step"):
        end = n.end_step if n.end_step is not None else n.start_step + 1
        return Note(int(n.pitch), int(n.start_step), int(end), part or "player")
    return Note(int(n.pitch), int(n.start), int(n.end), getattr(n, "voice", "") or part)


def as_notes(notes: Iterable[Any], part: str = "") -> list[Note]:
    return [as_note(n, part) for n in notes]


def sounding(notes: Iterable[Any], total: int) -> list[list[Note]]:
    """For every step 0..total-1, the notes sounding then."""
    out: list[list[Note]] = [[] for _ in range(total)]
    for n in as_notes(notes):
        for k in range(max(0, n.start), min(n.end, total)):
            out[k].append(n)
    return out


def _pcs(ns: Iterable[Note]) -> set[int]:
    return {n.pitch % 12 for n in ns}


def _start(chords: Sequence[Any], steps_per_bar: int, start: int | None) -> int:
    return steps_per_bar if start is None else start


def triad_key(chord: Any) -> tuple[int, str]:
    """(root, triad quality) of a chord symbol: a seventh counts as its triad, a sus as major."""
    return chord.root % 12, TRIAD_OF.get(chord.quality, chord.quality)


def triad_pcs(root: int, quality: str) -> tuple[int, ...]:
    return tuple((root + i) % 12 for i in QUALITIES[quality][0])


# --------------------------------------------------------------------------- per-step figures

def precision_steps(accomp: Iterable[Any], chords: Sequence[Any], steps_per_bar: int,
                    start: int | None = None) -> list[float]:
    """Per step with a chord and a sounding accompaniment: the share of the distinct sounding
    accompaniment pitch classes that are tones of the chord (sevenths count as chord tones)."""
    T = len(chords)
    snd = sounding(accomp, T)
    out = []
    for k in range(_start(chords, steps_per_bar, start), T):
        ch = chords[k]
        pcs = _pcs(snd[k])
        if ch is None or not pcs:
            continue
        out.append(len(pcs & set(ch.pcs)) / len(pcs))
    return out


def recall_steps(accomp: Iterable[Any], chords: Sequence[Any], steps_per_bar: int,
                 start: int | None = None) -> list[float]:
    """Per step with a chord: the share of the chord's triad (root, third, fifth) that the
    accompaniment sounds. A silent step counts 0: silence completes no chord."""
    T = len(chords)
    snd = sounding(accomp, T)
    out = []
    for k in range(_start(chords, steps_per_bar, start), T):
        ch = chords[k]
        if ch is None:
            continue
        tri = set(triad_pcs(*triad_key(ch)))
        out.append(len(tri & _pcs(snd[k])) / len(tri))
    return out


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def precision(accomp, chords, steps_per_bar, start=None) -> float:
    """Mean over steps of precision_steps (0.0 when the accompaniment never sounds)."""
    return _mean(precision_steps(accomp, chords, steps_per_bar, start))


def recall(accomp, chords, steps_per_bar, start=None) -> float:
    """Mean over steps of recall_steps."""
    return _mean(recall_steps(accomp, chords, steps_per_bar, start))


def f1(p: float, r: float) -> float:
    """Harmonic mean of a precision and a recall. Applied to the MEANS over steps (and, over a
    set of tunes, to the means over tunes), not averaged per step: F1 = 2PR/(P+R) of the means."""
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def distinct(accomp: Iterable[Any], total: int, steps_per_bar: int, start: int | None = None) -> float:
    """Mean number of distinct pitch classes among the sounding accompaniment voices, over the
    steps where any sounds (a collapse onto one pitch class in octaves scores 1)."""
    snd = sounding(accomp, total)
    xs = [len(_pcs(s)) for s in snd[(steps_per_bar if start is None else start):] if s]
    return _mean(xs)


def echo(accomp: Iterable[Any], player: Iterable[Any], total: int, steps_per_bar: int,
         start: int | None = None) -> float:
    """Share of accompaniment onsets whose pitch class is that of a player note sounding at that
    step or begun in the two steps before (copying the melody a 16th or two late). 0.0 when the
    accompaniment strikes nothing."""
    first = steps_per_bar if start is None else start
    player = as_notes(player)
    hits = n_on = 0
    for a in as_notes(accomp):
        if not first <= a.start < total:
            continue
        k = a.start
        pcs = {p.pitch % 12 for p in player if (p.start <= k < p.end) or (k - 2 <= p.start <= k)}
        n_on += 1
        hits += (a.pitch % 12) in pcs
    return hits / n_on if n_on else 0.0


def chord_changes(chords: Sequence[Any], steps_per_bar: int, start: int | None = None) -> list[int]:
    """Steps (from start on) where the annotated chord differs from the step before."""
    first = _start(chords, steps_per_bar, start)
    return [k for k in range(first, len(chords))
            if chords[k] is not None and (k == 0 or chords[k] != chords[k - 1])]


def bass_on_root(accomp: Iterable[Any], chords: Sequence[Any], steps_per_bar: int,
                 beat_steps: int = 4, start: int | None = None) -> float:
    """Share of chord changes where the lowest accompaniment note sounding in the chord's first
    beat is the chord's root (a silent first beat counts as a miss)."""
    T = len(chords)
    snd = sounding(accomp, T)
    changes = chord_changes(chords, steps_per_bar, start)
    hits = 0
    for c in changes:
        ch = chords[c]
        window = [n for k in range(c, min(c + beat_steps, T)) if chords[k] == ch for n in snd[k]]
        if window and min(n.pitch for n in window) % 12 == ch.root % 12:
            hits += 1
    return hits / len(changes) if changes else 0.0


# --------------------------------------------------------------------------- implied chord

def beat_profile(snd: Sequence[Sequence[Note]], lo: int, hi: int) -> tuple[list[int], list[int]]:
    """Duration weights of the pitch classes sounding in steps lo..hi-1 (each pitch class counts
    once per step however many voices double it), and of the pitch class in the bass per step."""
    w = [0] * 12
    bass = [0] * 12
    for k in range(lo, hi):
        if not snd[k]:
            continue
        for pc in _pcs(snd[k]):
            w[pc] += 1
        bass[min(n.pitch for n in snd[k]) % 12] += 1
    return w, bass


def best_triads(w: Sequence[int], bass: Sequence[int]) -> list[tuple[int, str]]:
    """The maj/min/dim triads that best match a beat's pitch-class weights: most weight on the
    triad's tones, then on its root, then on its root in the bass. A triad needs two of its tones
    present. Empty when none qualifies; several when they tie on all three.

    The root and bass tie-breaks make C-E-G under a melody A heard as C (as a listener hears C6),
    not a coin toss between C and A minor. Weight alone with ties split puts the ceiling's
    ensemble figure at 0.965 on the tunes here instead of 1.0 (issue 13 reported 0.95) and moves
    the model's and rules' figures by under 0.02."""
    best: list[tuple[int, str]] = []
    best_score: tuple[int, int, int] | None = None
    for root in range(12):
        for q in TRIAD_QUALITIES:
            tones = triad_pcs(root, q)
            if sum(w[t] > 0 for t in tones) < 2:
                continue
            score = (sum(w[t] for t in tones), w[root], bass[root])
            if best_score is None or score > best_score:
                best, best_score = [(root, q)], score
            elif score == best_score:
                best.append((root, q))
    return best


def implied_steps(notes: Iterable[Any], chords: Sequence[Any], steps_per_bar: int, beat_steps: int = 4,
                  start: int | None = None) -> list[float]:
    """Per beat with an annotated chord (the chord at the beat's first step): 1 if the triad the
    notes imply is the annotated chord's triad, 0 if another or none; a tie between k best triads
    that includes it gives 1/k (a listener choosing at random among them)."""
    T = len(chords)
    snd = sounding(notes, T)
    out = []
    for b in range(_start(chords, steps_per_bar, start), T, beat_steps):
        ch = chords[b]
        if ch is None:
            continue
        best = best_triads(*beat_profile(snd, b, min(b + beat_steps, T)))
        out.append(1 / len(best) if triad_key(ch) in best else 0.0)
    return out


def implied(notes, chords, steps_per_bar, beat_steps=4, start=None) -> float:
    """Mean of implied_steps: pass player + accompaniment for the ensemble, or the accompaniment
    alone."""
    return _mean(implied_steps(notes, chords, steps_per_bar, beat_steps, start))


def implied_chords(notes: Iterable[Any], total: int, beat_steps: int = 4) -> list[tuple[int, str] | None]:
    """The single triad each beat implies (None where none or a tie): used to annotate a chorale
    with the harmony of Bach's four voices."""
    snd = sounding(notes, total)
    out = []
    for b in range(0, total, beat_steps):
        best = best_triads(*beat_profile(snd, b, min(b + beat_steps, total)))
        out.append(best[0] if len(best) == 1 else None)
    return out


def note_in_chord_steps(player: Iterable[Any], accomp: Iterable[Any], total: int, beat_steps: int = 4,
                        start: int = 0) -> list[float]:
    """Per 16th step where the player sounds a note and the band implies a chord (ReaLchords'
    note-in-chord, ICML 2024): 1 if the melody's pitch class is a tone of the chord the band plays
    in that beat: the triad its notes imply (ties shared, as in implied_steps) and the seventh above
    that root when the band sounds one. Published: 0.71-0.78 for true chords, 0.48-0.54 for the best
    online models."""
    snd_p = sounding(player, total)
    snd_a = sounding(accomp, total)
    out: list[float] = []
    for b in range(start - start % beat_steps, total, beat_steps):
        hi = min(b + beat_steps, total)
        w, bass = beat_profile(snd_a, b, hi)
        best = best_triads(w, bass)
        if not best:
            continue
        tones = [set(triad_pcs(r, q)) | {(r + i) % 12 for i in (10, 11) if w[(r + i) % 12]} for r, q in best]
        for k in range(max(b, start), hi):
            if snd_p[k]:  # the melody: the player's top note
                pc = max(n.pitch for n in snd_p[k]) % 12
                out.append(sum(pc in t for t in tones) / len(tones))
    return out


# --------------------------------------------------------------------------- four-part writing

SATB_ORDER = ("soprano", "alto", "tenor", "bass")


def voice_crossings(parts: dict[str, Sequence[Any]], total: int, steps_per_bar: int,
                    start: int | None = None) -> float:
    """Voice crossings per 1000 steps: (step, adjacent pair of soprano/alto/tenor/bass) where both
    sound and the lower voice is above the upper one."""
    first = steps_per_bar if start is None else start
    rolls = {}
    for v in SATB_ORDER:
        r = [0] * total
        for n in as_notes(parts.get(v, ())):
            for k in range(max(0, n.start), min(n.end, total)):
                r[k] = n.pitch
        rolls[v] = r
    count = 0
    for a, b in zip(SATB_ORDER, SATB_ORDER[1:]):
        hi, lo = rolls[a], rolls[b]
        count += sum(1 for k in range(first, total) if hi[k] and lo[k] and lo[k] > hi[k])
    return 1000 * count / max(1, total - first)


def parallels(accomp: Sequence[Any], player: Sequence[Any], total: int, steps_per_bar: int,
              start: int | None = None) -> float:
    """Parallel fifths and octaves per 1000 steps between any two of soprano (the player), alto,
    tenor and bass, counted by voice_leading on the steps from `start` on
    (the step before start is kept so a motion into it counts)."""
    from liveai.evaluation.online import GridNote
    from liveai.generators.base import PlayerNote
    first = steps_per_bar if start is None else start
    lo = max(0, first - 1)

    def clip(n: Note) -> tuple[int, int] | None:
        s, e = max(n.start, lo), min(n.end, total)
        return (s, e) if e > s else None

    acc = []
    for n in as_notes(accomp):
        c = clip(n)
        if c and n.part in ("alto", "tenor", "bass"):
            acc.append(GridNote(n.pitch, 80, c[0], c[1], n.part))
    sop = []
    for n in as_notes(player, "soprano"):
        c = clip(n)
        if c:
            sop.append(PlayerNote(n.pitch, 80, c[0], c[1]))
    v = voice_leading(acc, sop, total)
    return 1000 * (v["parallel_fifths"] + v["parallel_octaves"]) / max(1, total - first)


# --------------------------------------------------------------------------- all together

METRICS = ("precision", "recall", "f1", "implied_ensemble", "implied_alone", "distinct", "echo", "bass_root",
           "note_in_chord")
FOUR_PART_METRICS = ("parallels", "crossings")


def score(player: Iterable[Any], accomp: Iterable[Any], chords: Sequence[Any], steps_per_bar: int,
          beat_steps: int = 4, start: int | None = None, four_part: bool = False) -> dict[str, float]:
    """All the metrics for one accompaniment of one tune (player = what the player played)."""
    player = as_notes(player, "player")
    accomp = as_notes(accomp)
    T = len(chords)
    p = precision(accomp, chords, steps_per_bar, start)
    r = recall(accomp, chords, steps_per_bar, start)
    out = {"precision": p, "recall": r, "f1": f1(p, r),
           "implied_ensemble": implied(player + accomp, chords, steps_per_bar, beat_steps, start),
           "implied_alone": implied(accomp, chords, steps_per_bar, beat_steps, start),
           "distinct": distinct(accomp, T, steps_per_bar, start),
           "echo": echo(accomp, player, T, steps_per_bar, start),
           "bass_root": bass_on_root(accomp, chords, steps_per_bar, beat_steps, start),
           "note_in_chord": _mean(note_in_chord_steps(player, accomp, T, beat_steps,
                                                      _start(chords, steps_per_bar, start)))}
    if four_part:
        out["parallels"] = parallels(accomp, player, T, steps_per_bar, start)
        parts: dict[str, list[Note]] = {"soprano": player}
        for n in accomp:
            parts.setdefault(n.part, []).append(n)
        out["crossings"] = voice_crossings(parts, T, steps_per_bar, start)
    return out


def mean_scores(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Means over tunes of every metric, except F1: F1 of the mean precision and mean recall."""
    if not rows:
        return {}
    keys = [k for k in rows[0] if all(k in r for r in rows)]
    out = {k: sum(r[k] for r in rows) / len(rows) for k in keys}
    if "precision" in out and "recall" in out:
        out["f1"] = f1(out["precision"], out["recall"])
    return out
