"""Voicing: which notes the bass, tenor and alto play of the planned chord, chosen jointly.

The network's voice heads say how Bach's voices would move (which chord tone, when to hold); the
search below picks, among the voicings that stay inside the planned chord, the one that scores
best on the heads *and* on what a harmony teacher checks: the triad complete (root, third and
fifth among the three voices), the root in the bass where a chord begins, no parallel fifths or
octaves, no crossed voices, sane spacing, and no voice jumping onto the melody's own note (the
echo the first model fell into). All three voices are scored together, so no rule can pull them
onto one pitch class: a voicing with a single pitch class is never the best unless nothing else
is possible.

Pure numpy on small arrays: about 100-300 candidate voicings a step.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Mapping, Sequence

import numpy as np

from liveai.harmony.chords import ChordSymbol

VOICES = ("bass", "tenor", "alto")  # low to high


@dataclass(frozen=True)
class VoicingWeights:
    """Weights of the voicing score (log-probability units). Chosen by listening and by every
    harmony metric together (`python -m liveai.evaluation`), never by one number."""

    heads: float = 1.0  # the network's log-probability of each voice's action
    head_floor: float = -3.0  # ... renormalised over the voice's options and floored here: the
    #                           network chooses among complete voicings, it cannot empty the chord
    coverage: float = 1.6  # per triad tone sounding among the three voices
    third: float = 2.0  # the chord's third missing (it says major or minor)
    unison: float = 3.0  # all three voices on one pitch class
    bass_root: float = 2.5  # the chord's bass note (root, or the played inversion) in the bass at a change
    echo: float = 3.5  # per voice starting a note on the melody's pitch class
    parallel: float = 2.5  # per pair of voices moving in parallel fifths or octaves
    leap: float = 0.15  # per semitone a voice moves beyond a fourth
    spacing: float = 1.0  # alto-tenor over an octave, tenor-bass over a twelfth
    hold_off_beat: float = 0.4  # holding is natural between beats
    reach: int = 9  # a voice moves at most this many semitones (a sixth)


@dataclass(frozen=True)
class Option:
    kind: str  # "hold" | "note" | "rest"
    pitch: int | None  # the pitch sounding after the action (None: silent)
    logp: float


def voice_options(voice: str, chord: ChordSymbol, current: int | None, logp: np.ndarray | None,
                  lo: int, hi: int, changed: bool, reach: int, token_of, hold_token: int,
                  rest_token: int, keep: int = 5) -> list[Option]:
    """The actions open to one voice: hold (if what sounds is still a chord tone), or a chord tone
    within reach, nearest first (at most `keep`). logp: the head's log-probabilities over tokens
    (None: all equal)."""
    pcs = set(chord.pcs)
    opts: list[Option] = []

    def lp(tok: int) -> float:
        return 0.0 if logp is None else float(logp[tok])

    if current is not None and current % 12 in pcs:
        opts.append(Option("hold", current, lp(hold_token)))
    centre = current if current is not None else (lo + hi) // 2
    cands = [p for p in range(max(lo, centre - reach), min(hi, centre + reach) + 1) if p % 12 in pcs]
    if not cands:  # out of reach (first note, or far out of range): anywhere in range
        cands = [p for p in range(lo, hi + 1) if p % 12 in pcs]
    cands.sort(key=lambda p: (abs(p - centre), p))
    for p in cands[:keep]:
        if p == current and not changed:
            continue  # restriking the same note: hold instead
        opts.append(Option("note", p, lp(token_of(p))))
    if not opts:
        opts.append(Option("rest", None, lp(rest_token)))
    return opts


def choose_voicing(chord: ChordSymbol, options: Mapping[str, Sequence[Option]],
                   current: Mapping[str, int | None], new_chord: bool, melody_pc: "int | Sequence[int] | None",
                   on_beat: bool, weights: VoicingWeights = VoicingWeights(),
                   rng: np.random.Generator | None = None, temperature: float = 0.0) -> dict[str, Option]:
    """The best (or, with temperature, a sampled) combination of one option per voice."""
    names = [v for v in VOICES if v in options]
    opts = [list(options[v]) for v in names]
    combos = list(product(*[range(len(o)) for o in opts]))
    n, V = len(combos), len(names)
    idx = np.array(combos, dtype=np.int64).reshape(n, V)
    pitch = np.full((n, V), -1, np.int64)
    logp = np.zeros(n)
    onset = np.zeros((n, V), bool)
    for j, o in enumerate(opts):
        p = np.array([x.pitch if x.pitch is not None else -1 for x in o])
        lp = np.array([x.logp for x in o], dtype=float)
        lp = np.maximum(lp - np.logaddexp.reduce(lp), weights.head_floor)
        on = np.array([x.kind == "note" for x in o])
        pitch[:, j] = p[idx[:, j]]
        logp += lp[idx[:, j]]
        onset[:, j] = on[idx[:, j]]
    w = weights
    score = w.heads * logp
    sounding = pitch >= 0
    pcs = np.where(sounding, pitch % 12, -1)
    triad = chord.triad
    covered = sum((pcs == t).any(axis=1).astype(float) for t in triad)
    score += w.coverage * covered
    score -= w.third * ~(pcs == triad[1]).any(axis=1)
    distinct = np.array([len(set(r[r >= 0])) for r in pcs])
    score -= w.unison * (distinct <= 1)
    if new_chord and "bass" in names:
        b = names.index("bass")
        want = chord.bass if chord.bass is not None else chord.root
        score += np.where(pcs[:, b] == want % 12, w.bass_root, -w.bass_root)
    for m in ((melody_pc,) if isinstance(melody_pc, int) else (melody_pc or ())):
        score -= w.echo * ((pcs == m % 12) & onset).sum(axis=1)
    # voice order (no crossing) and spacing, low to high
    for j in range(V - 1):
        lo, hi = pitch[:, j], pitch[:, j + 1]
        both = (lo >= 0) & (hi >= 0)
        score -= 10.0 * (both & (hi <= lo))
        gap = hi - lo
        limit = 12 if names[j + 1] == "alto" else 19
        score -= w.spacing * (both & (gap > limit))
    # parallels and leaps, against what sounds now
    cur = np.array([current.get(v) if current.get(v) is not None else -1 for v in names])
    moved = onset & (cur[None, :] >= 0)
    for j in range(V):
        if cur[j] >= 0:
            step = np.abs(pitch[:, j] - cur[j])
            score -= w.leap * np.maximum(0, step - 5) * onset[:, j]
    for a in range(V):
        for b in range(a + 1, V):
            if cur[a] < 0 or cur[b] < 0:
                continue
            before = (cur[b] - cur[a]) % 12
            if before not in (0, 7):
                continue
            after = (pitch[:, b] - pitch[:, a]) % 12
            same_dir = np.sign(pitch[:, a] - cur[a]) == np.sign(pitch[:, b] - cur[b])
            par = moved[:, a] & moved[:, b] & (after == before) & same_dir & (pitch[:, a] != cur[a])
            score -= w.parallel * par
    if not on_beat:
        score += w.hold_off_beat * (~onset).sum(axis=1)
    if temperature > 1e-6 and rng is not None:
        z = (score - score.max()) / temperature
        p = np.exp(z)
        p /= p.sum()
        k = int(min(n - 1, np.searchsorted(np.cumsum(p), rng.random(), side="right")))
    else:
        k = int(np.argmax(score))
    return {v: opts[j][idx[k, j]] for j, v in enumerate(names)}


def revoice(sounding: Mapping[str, int | None], chord: ChordSymbol, bass_voices: Sequence[str] = ("bass",),
            skip: Sequence[str] = ("drums",), ranges: Mapping[str, tuple[int, int]] | None = None,
            melody: Sequence[int] = ()) -> dict[str, int]:
    """The reactive chord change (a chord the player just struck, or a melody note the plan could
    not take): voices that do not fit the new chord move to it at once. The accompanist's three
    voices are voiced together (choose_voicing: complete, root in the bass, no parallels); other
    voices (a band's comping) each move to the nearest free chord tone, a bass to the root.
    Returns voice -> new pitch for the voices that move."""
    if ranges is not None and set(sounding) == set(VOICES) and all(sounding[v] is not None for v in VOICES):
        opts = {v: voice_options(v, chord, sounding[v], None, *ranges[v], True, 7, lambda p: 0, 1, 0)
                for v in VOICES}
        choice = choose_voicing(chord, opts, sounding, True, tuple(melody), True)
        return {v: o.pitch for v, o in choice.items() if o.kind == "note" and o.pitch is not None}
    pcs = set(chord.pcs)
    root = (chord.bass if chord.bass is not None else chord.root) % 12
    moves: dict[str, int] = {}
    taken = {p % 12 for v, p in sounding.items() if p is not None and p % 12 in pcs}
    for v, p in sorted(sounding.items(), key=lambda x: (x[1] is None, x[1] or 0)):
        if p is None or v.split(".", 1)[0] in skip:
            continue
        if v.split(".", 1)[0] in bass_voices:
            if p % 12 != root:
                q = min((q for q in range(p - 7, p + 6) if q % 12 == root), key=lambda q: (abs(q - p), q))
                moves[v] = q  # nearest root, down rather than up (the bass stays low)
                taken.discard(p % 12)
                taken.add(root)
            continue
        if p % 12 in pcs:
            continue
        free = [pc for pc in pcs if pc not in taken] or list(pcs)
        q = min((q for q in range(p - 6, p + 7) if q % 12 in free), key=lambda q: (abs(q - p), q))
        taken.add(q % 12)
        moves[v] = q
    return moves
