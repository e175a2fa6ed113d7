"""The planner's evidence: functional harmony as data (what follows what, how common each chord is,
in major and in minor), harmonic-rhythm segments, the melody's evidence for each chord and the
key's scoring tables. Pure functions and tables; the plan/predict/correct state machine that weighs
them is liveai.harmony.planner."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from liveai.harmony.forms import N_CHORDS, QUALITY_INDEX
from liveai.music.notes import STEPS_PER_BEAT, PlayerNote
from liveai.music.theory import TRIAD_OF as TRIAD_QUALITY, ChordSymbol, Key

# Functional harmony as data: for a chord on scale degree (semitones above the tonic, quality),
# how likely each next chord is, in major and in minor. Staying is scored apart.
_MAJOR_NEXT: dict[tuple[int, str], dict[tuple[int, str], float]] = {
    (0, "maj"): {(5, "maj"): 1.0, (7, "maj"): 1.0, (9, "min"): 0.6, (2, "min"): 0.5, (4, "min"): 0.2},
    (2, "min"): {(7, "maj"): 1.2, (5, "maj"): 0.3, (0, "maj"): 0.2, (11, "dim"): 0.2},
    (4, "min"): {(9, "min"): 0.8, (5, "maj"): 0.6, (2, "min"): 0.3},
    (5, "maj"): {(7, "maj"): 1.0, (0, "maj"): 0.9, (2, "min"): 0.4, (9, "min"): 0.2},
    (7, "maj"): {(0, "maj"): 1.3, (9, "min"): 0.5, (5, "maj"): 0.4},
    (9, "min"): {(5, "maj"): 0.9, (2, "min"): 0.8, (7, "maj"): 0.4, (4, "min"): 0.2, (0, "maj"): 0.3},
    (11, "dim"): {(0, "maj"): 1.2, (4, "min"): 0.2},
    (2, "maj"): {(7, "maj"): 1.2, (2, "min"): 0.2},  # V/V
    (4, "maj"): {(9, "min"): 1.2},  # V/vi
    (9, "maj"): {(2, "min"): 1.2},  # V/ii
    (10, "maj"): {(0, "maj"): 0.8, (5, "maj"): 0.8},  # bVII
    (5, "min"): {(0, "maj"): 1.0, (7, "maj"): 0.4},  # iv borrowed
}
_MINOR_NEXT: dict[tuple[int, str], dict[tuple[int, str], float]] = {
    (0, "min"): {(5, "min"): 1.0, (7, "maj"): 1.0, (8, "maj"): 0.6, (3, "maj"): 0.5, (10, "maj"): 0.4},
    (2, "dim"): {(7, "maj"): 1.2},
    (3, "maj"): {(8, "maj"): 0.7, (5, "min"): 0.6, (10, "maj"): 0.5, (7, "maj"): 0.3},
    (5, "min"): {(7, "maj"): 1.1, (0, "min"): 0.8, (10, "maj"): 0.3},
    (7, "maj"): {(0, "min"): 1.3, (8, "maj"): 0.5},
    (8, "maj"): {(5, "min"): 0.6, (7, "maj"): 0.8, (3, "maj"): 0.4, (10, "maj"): 0.5},
    (10, "maj"): {(3, "maj"): 1.0, (0, "min"): 0.6, (8, "maj"): 0.3},
    (0, "maj"): {(5, "min"): 0.8},  # picardy / V of iv
}
_PRIOR = {  # how common each chord is at all (tonic, dominant, subdominant first)
    False: {(0, "maj"): 1.0, (7, "maj"): 0.85, (5, "maj"): 0.8, (9, "min"): 0.45, (2, "min"): 0.4,
            (4, "min"): 0.15, (11, "dim"): 0.05, (2, "maj"): 0.15, (4, "maj"): 0.12, (9, "maj"): 0.08,
            (10, "maj"): 0.1, (5, "min"): 0.08},
    True: {(0, "min"): 1.0, (7, "maj"): 0.85, (5, "min"): 0.75, (8, "maj"): 0.45, (3, "maj"): 0.4,
           (10, "maj"): 0.35, (2, "dim"): 0.1, (0, "maj"): 0.05},
}


_SEGS_PER_BAR = {"auto": (1, 2), "bar": (1,), "half": (2,), "beat": (3, 4)}


def _segment_index(seg_start: int, steps_per_bar: int, seg: int) -> int:
    """A segment's number from the start of the performance (bars times segments per bar)."""
    return seg_start // steps_per_bar * (steps_per_bar // seg) + seg_start % steps_per_bar // seg


def segment_steps(rhythm: str, steps_per_bar: int) -> int:
    """Length of a harmonic segment in steps."""
    beats = max(1, steps_per_bar // STEPS_PER_BEAT)
    if rhythm == "beat":
        return STEPS_PER_BEAT
    if rhythm == "bar":
        return steps_per_bar
    if rhythm == "half" or (rhythm == "auto" and beats >= 4 and beats % 2 == 0):
        return steps_per_bar // 2
    return steps_per_bar


# How likely a melody note is at each interval above a chord's root, against chance (log ratio),
# measured on the soprano over Bach's labelled beats in the training chorales (the held-out
# chorales and the evaluation tunes not used):
#   python -c "..." in liveai/harmony/README-free: see `emission_table()` in liveai/train/harmony_stats.py
# Clipped at -3: a rare interval is a passing tone, not an impossibility.
EMISSION = {
    "maj": (1.35, -6.81, -2.23, -8.76, 1.15, -1.93, -3.56, 1.39, -3.72, -2.32, -0.81, -1.96),
    "min": (1.2, -3.73, -1.7, 1.61, -7.96, -1.9, -6.35, 0.88, -1.88, -2.17, -0.49, -5.77),
    "dim": (0.79, -2.65, -5.08, 1.01, -4.49, -3.02, 1.26, -5.59, -1.28, 0.86, -0.31, -6.69),
}
_OTHER = 0.02  # prior of a triad the key's table does not name (a strong melody still wins it)


def _candidates(key: Key) -> list[tuple[ChordSymbol, tuple[int, str], float]]:
    """Every major, minor and diminished triad, with the key's prior (named chords first)."""
    table = _PRIOR[key.minor]
    out = [(ChordSymbol((key.tonic + d) % 12, q), (d, q), w) for (d, q), w in table.items()]
    named = set(table)
    out += [(ChordSymbol((key.tonic + d) % 12, q), (d, q), _OTHER)
            for q in ("maj", "min", "dim") for d in range(12) if (d, q) not in named]
    return out


def _soft_seventh(chord: ChordSymbol, key: Key | None) -> int | None:
    """The seventh a melody may sit on without asking for another chord: a dominant seventh, on a
    major chord whose minor seventh is a tone of the key (V in major; V/V, V/vi, V/ii, whose roots
    are in the scale too; bVII and a major I in minor) or whose root is outside the key (borrowed
    chords, a minor key's raised degrees). A major seventh, or a seventh over a minor chord, is a
    passing tone far more often than a chord tone in the songs measured: granting those too, as
    liveai did before, made the plan right less often on both sets (per step: 0.40 against 0.54 on
    `liveai evaluate --songs`, 0.741 against 0.750 on liveai's own tunes)."""
    if key is None or chord.quality != "maj":
        return None
    pc = (chord.root + 10) % 12
    scale = set(key.scale)
    return pc if pc in scale or chord.root not in scale else None


def melody_evidence(notes: Sequence[PlayerNote], start: int, until: int, steps_per_bar: int) -> np.ndarray:
    """Pitch-class weights of the melody heard in steps [start, until]: duration inside the window,
    more for notes on beats and on the segment's first step, the top (melody) note of a group only
    as much as the rest."""
    w = np.zeros(12)
    for n in notes[-48:]:  # (in order of onset: what overlaps the window is among the latest)
        if n.start_step > until or (n.end_step is not None and n.end_step <= start):
            continue  # outside the window (most of them: skipped before any arithmetic)
        end = n.end_step if n.end_step is not None else max(until + 1, n.start_step + STEPS_PER_BEAT)
        a, b = max(n.start_step, start), min(end, max(until + 1, a_min := n.start_step + 1))
        if n.end_step is None:  # still sounding: it will last at least a beat
            b = max(b, min(end, max(n.start_step, start) + STEPS_PER_BEAT))
        if b <= a or n.start_step > until:
            continue
        dur = b - a
        acc = 1.0
        if n.start_step == start or (a == start and n.start_step < start):
            acc = 1.8
        elif n.start_step % STEPS_PER_BEAT == 0:
            acc = 1.3
        elif n.start_step % 2 == 1:
            acc = 0.6  # 16th passing notes
        w[n.pitch % 12] += min(dur, 8) / 4.0 * acc
    return w


def fit(chord: ChordSymbol, w: np.ndarray, passing: float = 0.75, seventh: int | None = None) -> float:
    """How well a chord explains melody weights: chord tones count, other notes cost less (they
    may be passing tones), the root and third a little more than the fifth; a melody on the
    chord's seventh neither counts nor costs much (songs and jazz sit on sevenths)."""
    pcs = chord.triad
    s = 0.0
    for pc in range(12):
        x = w[pc]
        if x == 0.0:
            continue
        if pc in pcs:
            s += x * (1.15 if pc == pcs[0] else 1.05 if pc == pcs[1] else 1.0)
        elif pc == seventh:
            s += 0.1 * x
        else:
            s -= passing * x
    return s


def form_fit(passing: float) -> np.ndarray:
    """The melody emission of every major, minor and diminished triad, in forms' chord order."""
    out = np.zeros((N_CHORDS, 12))
    for q, qi in QUALITY_INDEX.items():
        table = np.clip(np.array(EMISSION[q]), -3.0, None) * passing
        for root in range(12):
            out[root * 3 + qi] = np.roll(table, root)
    return out


def _triad_of(chord: ChordSymbol) -> ChordSymbol:
    """The planner's candidate a chord counts as (its triad; aug as major)."""
    q = TRIAD_QUALITY.get(chord.quality, "maj")
    return ChordSymbol(chord.root, q if q in QUALITY_INDEX else "maj")


class _Ranked:
    """Scores of a key's candidate chords: the best, and the score of any one of them."""

    __slots__ = ("score", "tab")

    def __init__(self, score: np.ndarray, tab: "_KeyTables") -> None:
        self.score, self.tab = score, tab

    @property
    def best(self) -> tuple[float, ChordSymbol]:
        i = int(np.argmax(self.score))  # the first of equal maxima, in the key's order of chords
        return float(self.score[i]), self.tab.chords[i]

    def score_of(self, chord: ChordSymbol) -> float | None:
        i = self.tab.index.get(_triad_of(chord))
        return None if i is None else float(self.score[i])


class _KeyTables:
    """A key's candidate chords as arrays: priors, transitions, and the melody-fit matrix (so a
    step's scoring is a few small matrix products)."""

    def __init__(self, key: Key, passing: float, learnt: dict | None = None, learnt_weight: float = 1.0) -> None:
        cands = _candidates(key)
        self.chords = [c for c, _, _ in cands]
        self.degrees = [d for _, d, _ in cands]
        prior = np.array([w for _, _, w in cands])
        self.prior = prior / prior.sum()
        n = len(cands)
        self.fit = np.zeros((n, 12))
        self.triads = np.zeros((n, 12))
        for i, c in enumerate(self.chords):
            table = np.clip(np.array(EMISSION[TRIAD_QUALITY.get(c.quality, "maj")]), -3.0, None)
            self.fit[i, :] = np.roll(table, c.root) * passing
            sev = _soft_seventh(c, key)
            if sev is not None:
                self.fit[i, sev] = max(self.fit[i, sev], 0.1)
            r, t3, t5 = c.triad
            self.triads[i, [r, t3, t5]] = 1.0
        self.tonic_boost = np.array([1.5 if d[0] == 0 else 1.0 for d in self.degrees])
        self.index = {c: i for i, c in enumerate(self.chords)}
        self.form_index = np.array([c.root * 3 + QUALITY_INDEX[c.quality] for c in self.chords])
        next_table = _MINOR_NEXT if key.minor else _MAJOR_NEXT
        self.trans = {}
        for i, d in enumerate(self.degrees):
            row = np.array([next_table.get(d, {}).get(e, 0.0) for e in self.degrees]) + 0.15 * self.prior
            row[i] = 0.0
            self.trans[i] = row / row.sum()
        self.key = key
        if learnt and learnt_weight > 0.0:
            self._learn(learnt.get("minor" if key.minor else "major") or {}, learnt_weight)

    def _learn(self, table: dict, weight: float) -> None:
        """Blend in a player's progressions: {"prior": {"d,q": n}, "next": {"d,q": {"d,q": n}}}
        counted in their songs' keys; a row moves as far as its counts can say (n / (n + 10))."""
        names = {f"{d},{q}": i for i, (d, q) in enumerate(self.degrees)}

        def counts(row: dict) -> np.ndarray:
            c = np.zeros(len(self.degrees))
            for k, n in row.items():
                if k in names:
                    c[names[k]] += float(n)
            return c
        prior = counts(table.get("prior", {}))
        if prior.sum() > 0:
            a = weight * prior.sum() / (prior.sum() + 50.0)
            self.prior = (1 - a) * self.prior + a * (prior + 0.5 * self.prior) / (prior + 0.5 * self.prior).sum()
        for k, row in table.get("next", {}).items():
            i = names.get(k)
            if i is None:
                continue
            c = counts(row)
            c[i] = 0.0
            if c.sum() <= 0:
                continue
            a = weight * c.sum() / (c.sum() + 10.0)
            mine = (c + 0.05 * self.prior) / (c + 0.05 * self.prior).sum()
            mine[i] = 0.0
            self.trans[i] = (1 - a) * self.trans[i] + a * mine / mine.sum()

    def transition(self, previous: ChordSymbol | None, p_stay: float) -> np.ndarray:
        if previous is None:
            return self.prior.copy()
        i = self.index.get(ChordSymbol(previous.root, TRIAD_QUALITY.get(previous.quality, "maj")))
        if i is None:
            return self.prior.copy()
        p = (1.0 - p_stay) * self.trans[i]
        p[i] = p_stay
        return p
