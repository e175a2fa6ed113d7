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

import functools
import math
from dataclasses import dataclass
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from liveai.music.theory import ChordSymbol

VOICES = ("bass", "tenor", "alto")  # low to high
_POPCOUNT = np.array([bin(i).count("1") for i in range(1 << 12)])  # pitch classes in a 12-bit mask


@dataclass(frozen=True)
class VoicingWeights:
    """Weights of the voicing score (log-probability units). Chosen by listening and by every
    harmony metric together (`python -m liveai.evaluation`), never by one number."""

    heads: float = 0.6  # the network's log-probability of each voice's action
    head_floor: float = -3.0  # ... renormalised over the voice's options and floored here: the
    #                           network chooses among complete voicings, it cannot empty the chord
    coverage: float = 2.5  # per triad tone sounding among the three voices
    third: float = 2.0  # the chord's third missing (it says major or minor)
    root: float = 2.0  # the chord's root missing (without it, two tones name another chord too)
    unison: float = 3.0  # all three voices on one pitch class
    bass_root: float = 2.5  # the chord's bass note (root, or the played inversion) in the bass at a change
    echo: float = 3.5  # per voice starting a note on the melody's pitch class
    parallel: float = 5.0  # per pair of voices moving in parallel fifths or octaves
    tune_parallel: float = 7.0  # ... with the tune (a reactive re-voicing): worse than the bass off
    #                             its root (a swing of 2 x bass_root), and never tied with it
    above_melody: float = 3.0  # per voice at or above the melody's note
    leap: float = 0.15  # per semitone a voice moves beyond a fourth
    spacing: float = 1.0  # alto-tenor over an octave, tenor-bass over a twelfth
    hold_off_beat: float = 0.4  # holding is natural between beats
    reach: int = 9  # a voice moves at most this many semitones (a sixth)


class Option(NamedTuple):
    """One action open to a voice (a tuple: a plan step builds about twenty of them)."""

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
    table = None if logp is None else (logp.tolist() if hasattr(logp, "tolist") else list(logp))  # then plain indexing

    def lp(tok: int) -> float:
        return 0.0 if table is None else table[tok]

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
                   rng: np.random.Generator | None = None, temperature: float = 0.0,
                   melody_top: int | None = None, soprano: tuple[int, int] | None = None) -> dict[str, Option]:
    """The best (or, with temperature, a sampled) combination of one option per voice.

    The score is a sum of terms of one voice (the heads, leaps, echo, staying below the tune, the
    bass's root), of two voices (order, spacing, parallels) and of all three (the triad complete,
    its third, no unison): one voice's terms and the all-voice lookup are broadcast over the grid
    of combinations, two voices' terms are built on their small grid first (a plan step's budget is
    a fraction of a millisecond, and numpy's per-call cost dominates arrays this small).
    soprano: (previous, new) pitch of the melody when its note at this step is known (a reactive
    re-voicing): no voice may move in parallel fifths or octaves with it either."""
    w = weights
    names = [v for v in VOICES if v in options]
    opts = [options[v] for v in names]
    V = len(names)
    melody = (melody_pc,) if isinstance(melody_pc, int) else tuple(melody_pc or ())
    want_bass = (chord.bass if chord.bass is not None else chord.root) % 12
    mel = {m % 12 for m in melody}
    sop_iv = soprano if soprano is not None and soprano[0] != soprano[1] else None
    score = _chord_table(chord.triad, w.coverage, w.third, w.root, w.unison)
    heads, floor, leap_w, echo_w, above, br = w.heads, w.head_floor, w.leap, w.echo, w.above_melody, w.bass_root
    tpar, par_w, spacing = w.tune_parallel, w.parallel, w.spacing
    hob = 0.0 if on_beat else w.hold_off_beat
    exp, log = math.exp, math.log
    Ps, Ons, sizes = [], [], []
    total = None
    present = None
    for j in range(V):
        name = names[j]
        o = opts[j]
        cur = current.get(name)
        lps = [x.logp for x in o]
        top = max(lps)
        norm = top + log(sum([exp(x - top) for x in lps]))
        bass_new = new_chord and name == "bass"
        u, p, on, mask = [], [], [], []
        for x, lp in zip(o, lps):
            q = -1 if x.pitch is None else x.pitch
            d = lp - norm
            v = heads * (d if d > floor else floor)
            if x.kind == "note":
                if cur is not None:
                    jump = abs(q - cur) - 5
                    if jump > 0:
                        v -= leap_w * jump
                    if sop_iv is not None and q != cur and (sop_iv[0] - cur) % 12 in (0, 7) \
                            and (sop_iv[1] - q) % 12 == (sop_iv[0] - cur) % 12:
                        v -= tpar
                if q >= 0 and q % 12 in mel:
                    v -= echo_w
                on.append(True)
            else:
                v += hob
                on.append(False)
            if melody_top is not None and q >= melody_top:
                v -= above
            if bass_new:
                v += br if q >= 0 and q % 12 == want_bass else -br
            u.append(v)
            p.append(q)
            mask.append(0 if q < 0 else 1 << (q % 12))
        n = len(o)
        sizes.append(n)
        shape = (1,) * j + (n,) + (1,) * (V - j - 1)
        ua = np.array(u).reshape(shape)
        ma = np.array(mask).reshape(shape)
        total = ua if total is None else total + ua
        present = ma if present is None else present | ma
        Ps.append(p)
        Ons.append(on)
    total = total + score[present]
    # two voices' terms (order, spacing, parallels against what sounds) on their small grid
    for a in range(V):
        ca = current.get(names[a])
        for b in range(a + 1, V):
            adjacent = b == a + 1
            cb = current.get(names[b])
            par_iv = None
            if ca is not None and cb is not None and (cb - ca) % 12 in (0, 7):
                par_iv = (cb - ca) % 12
            if not adjacent and par_iv is None:
                continue
            limit = 12 if names[b] == "alto" else 19
            pa, pb, oa, ob = Ps[a], Ps[b], Ons[a], Ons[b]
            pen = []
            any_pen = False
            for i in range(len(pa)):
                lo = pa[i]
                ma_ = par_iv is not None and oa[i] and lo != ca
                for k in range(len(pb)):
                    hi = pb[k]
                    s = 0.0
                    if adjacent and lo >= 0 and hi >= 0:
                        gap = hi - lo
                        if gap <= 0:
                            s += 10.0
                        elif gap > limit:
                            s += spacing
                    if ma_ and ob[k] and hi != cb and (hi - lo) % 12 == par_iv:
                        s += par_w
                    if s:
                        any_pen = True
                    pen.append(s)
            if any_pen:
                shape = [1] * V
                shape[a], shape[b] = len(pa), len(pb)
                total = total - np.array(pen).reshape(shape)
    flat = total.ravel()
    if temperature > 1e-6 and rng is not None:  # a draw from softmax(score / temperature)
        c = np.exp((flat - flat.max()) * (1.0 / temperature)).cumsum()
        k = min(flat.size - 1, int(c.searchsorted(rng.random() * float(c[-1]), side="right")))
    else:
        k = int(np.argmax(flat))
    out = {}
    for j in range(V - 1, -1, -1):
        k, i = divmod(k, sizes[j])
        out[names[j]] = opts[j][i]
    return {v: out[v] for v in names}


@functools.lru_cache(maxsize=256)
def _chord_table(triad: tuple[int, ...], coverage: float, third: float, root: float, unison: float) -> np.ndarray:
    """The all-voices terms of a voicing by the mask of pitch classes it sounds: triad tones
    covered, its third and root present, not a single pitch class (one lookup per voicing)."""
    masks = np.arange(1 << 12)
    tri = sum(1 << t for t in triad)
    return (coverage * _POPCOUNT[masks & tri] - third * ((masks & (1 << triad[1])) == 0)
            - root * ((masks & (1 << triad[0])) == 0) - unison * (_POPCOUNT[masks] <= 1))


def revoice(sounding: Mapping[str, int | None], chord: ChordSymbol, bass_voices: Sequence[str] = ("bass",),
            skip: Sequence[str] = ("drums",), ranges: Mapping[str, tuple[int, int]] | None = None,
            melody: Sequence[int] = (), soprano: tuple[int, int] | None = None) -> dict[str, int]:
    """The reactive chord change (a chord the player just struck, or a melody note the plan could
    not take): voices that do not fit the new chord move to it at once. The accompanist's three
    voices are voiced together (choose_voicing: complete, root in the bass, no parallels); other
    voices (a band's comping) each move to the nearest free chord tone, a bass to the root.
    Returns voice -> new pitch for the voices that move."""
    if ranges is not None and set(sounding) == set(VOICES) and all(sounding[v] is not None for v in VOICES):
        opts = {v: voice_options(v, chord, sounding[v], None, *ranges[v], True, 7, lambda p: 0, 1, 0)
                for v in VOICES}
        choice = choose_voicing(chord, opts, sounding, True, tuple(melody), True, soprano=soprano,
                                melody_top=soprano[1] if soprano is not None else None)
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
    return _complete(sounding, moves, chord, (*bass_voices, *skip))


def _complete(sounding: Mapping[str, int | None], moves: dict[str, int], chord: ChordSymbol,
              skip: Sequence[str]) -> dict[str, int]:
    """Each part's chord made whole after the clashing voices moved: a root or third that no voice
    of the part plays is taken by the voice nearest it among those doubling a pitch class (a pad
    left with A F A under D minor plays A F D, not a partial chord struck right again later)."""
    after = {v: moves.get(v, p) for v, p in sounding.items() if p is not None and v.split(".", 1)[0] not in skip}
    parts: dict[str, list[str]] = {}
    for v in after:
        parts.setdefault(v.split(".", 1)[0], []).append(v)
    for voices in parts.values():
        if len(voices) < 3:
            continue
        for pc in chord.triad[:2]:
            pcs = [after[v] % 12 for v in voices]
            if pc in pcs:
                continue
            doubled = [v for v in voices if pcs.count(after[v] % 12) > 1]
            if not doubled:
                break
            v, q = min(((v, q) for v in doubled for q in range(after[v] - 6, after[v] + 7) if q % 12 == pc),
                       key=lambda x: (abs(x[1] - after[x[0]]), x[1]))
            after[v] = moves[v] = q
    return moves


def repair(before: Mapping[str, int | None], planned: Mapping[str, int | None], chord: ChordSymbol,
           ranges: Mapping[str, tuple[int, int]], new_chord: bool, melody: Sequence[int] = (),
           soprano: tuple[int, int] | None = None) -> dict[str, int]:
    """Re-voice a step that has not sounded yet, now that the player's note at it is known (a chord
    change it brought, or parallels it would make with the planned voices): the three voices are
    chosen again from what sounded *before* the step (so parallels are judged against what was
    heard), and the voices whose pitch differs from the plan are returned (voice -> new pitch)."""
    if set(before) != set(VOICES) or any(before[v] is None for v in VOICES):
        return {}
    opts = {v: voice_options(v, chord, before[v], None, *ranges[v], True, 7, lambda p: 0, 1, 0)
            for v in VOICES}
    choice = choose_voicing(chord, opts, before, new_chord, tuple(melody), True, soprano=soprano,
                            melody_top=soprano[1] if soprano is not None else None)
    out = {}
    for v, o in choice.items():
        pitch = o.pitch if o.kind == "note" else before[v]
        if pitch is not None and pitch != planned.get(v):
            out[v] = pitch
    return out


def parallels_with(soprano: tuple[int, int], before: Mapping[str, int | None],
                   planned: Mapping[str, int | None]) -> bool:
    """Whether a planned step moves a voice in parallel fifths or octaves with the tune."""
    a, b = soprano
    if a == b:
        return False
    for v in VOICES:
        p, q = before.get(v), planned.get(v)
        if p is None or q is None or p == q:
            continue
        if (a - p) % 12 in (0, 7) and (b - q) % 12 == (a - p) % 12:  # the tune is the upper voice
            return True
    return False
