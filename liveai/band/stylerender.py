"""The style renderer: pure functions from (chord, next chord, grid cell, meter position, variation,
previous pitches, rng) to what each part plays at one step. The style decides rhythm and voicing;
every pitch is a tone of the chord, except the bass's approach notes (A), which lead to the next
chord's root by a half or whole step, as a walking bass does."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol, Sequence

from liveai.band.style import PartSpec
from liveai.music.theory import close_voicing


class ChordLike(Protocol):
    root: int
    pcs: tuple[int, ...]
    bass: int | None


@dataclass(frozen=True, slots=True)
class Hit:
    """What a part does at one step: start notes, hold what sounds, or fall silent."""

    kind: str  # "note" | "hold" | "rest"
    pitches: tuple[int, ...] = ()
    velocity: int = 0
    revoice: bool = False  # not a hit of the pattern: the chord changed under held notes (only those that change move)


HOLD_HIT = Hit("hold")
REST_HIT = Hit("rest")


def clamp_vel(v: float) -> int:
    return int(max(1, min(127, round(v))))


def nearest(pc: int, target: int, lo: int, hi: int) -> int:
    """The pitch of class pc nearest target inside lo..hi (ties go down)."""
    best = None
    for p in range(lo, hi + 1):
        if p % 12 == pc % 12 and (best is None or abs(p - target) < abs(best - target)):
            best = p
    if best is None:  # range narrower than an octave cannot happen (the parser checks); be safe
        best = lo + (pc - lo) % 12
    return best


def velocity_of(cell: str, spec: PartSpec, downbeat: bool, on_beat: bool, dynamics: int, scale: float) -> int:
    """Velocity accents: X and the bar's downbeat get spec.accent, beats a third of it, g is a
    ghost; the whole follows the player's dynamics (dynamics 80 is neutral)."""
    if cell == "g":
        v = spec.ghost
    else:
        v = spec.velocity
        if cell == "X" or downbeat:
            v += spec.accent
        elif on_beat:
            v += spec.accent / 3
    v += 0.5 * (dynamics - 80)
    return clamp_vel(v * scale)


# ------------------------------------------------------------------------------------ bass
def chord_tone(chord: ChordLike, degree: str) -> int:
    """Pitch class of a degree symbol: R root (the played bass of an inversion), 3, 5, 7
    (the chord's own tones; a missing seventh gives the root), 8 the root."""
    pcs = chord.pcs
    if degree == "R":
        return chord.bass if chord.bass is not None else chord.root
    if degree == "3":
        return pcs[1] if len(pcs) > 1 else chord.root
    if degree == "5":
        return pcs[2] if len(pcs) > 2 else chord.root
    if degree == "7":
        return pcs[3] if len(pcs) > 3 else chord.root
    return chord.root


def bass_pitch(cell: str, chord: ChordLike, next_chord: ChordLike | None, prev: int | None, spec: PartSpec,
               rng: random.Random) -> int:
    """The bass note of a grid cell. x/X/g/R/3/5/7: that chord tone nearest the previous note;
    8: the root an octave above the last root; W: a walking chord tone moving toward the next
    chord's root; A: a half (chromatic) or whole (scale) step above or below that root."""
    lo, hi = spec.range
    here = prev if prev is not None else (lo + 12 if lo + 12 <= hi else lo)
    target_chord = next_chord if next_chord is not None else chord
    if cell in "xXgR357":
        return nearest(chord_tone(chord, "R" if cell in "xXg" else cell), here, lo, hi)
    if cell == "8":
        root = nearest(chord.root, here, lo, hi)
        return root + 12 if root + 12 <= hi else root
    target = nearest(chord_tone(target_chord, "R"), here, lo, hi)
    if cell == "A":
        step = {"chromatic": 1, "scale": 2}.get(spec.walk) or rng.choice((1, 2))
        below, above = target - step, target + step
        order = (above, below) if here > target else (below, above)
        for p in order:
            if lo <= p <= hi and p != here:
                return p
        return order[0] if lo <= order[0] <= hi else target
    # W: a chord tone between here and the target, moving, and not the target itself
    cands = [p for p in range(lo, hi + 1) if p % 12 in chord.pcs and p != here]
    direction = (target > here) - (target < here) or rng.choice((-1, 1))

    def cost(p: int) -> float:
        d = p - here
        c = abs(abs(d) - 3.5)  # a third or so
        if d * direction < 0:
            c += 4  # moving away from where the line is going
        if p == target:
            c += 3  # save the target for the downbeat
        return c + rng.random() * 0.5
    return min(cands, key=cost) if cands else nearest(chord.root, here, lo, hi)


# ------------------------------------------------------------------------------------ chords
def chord_voicing(chord: ChordLike, kind: str, lo: int, hi: int, prev: Sequence[int] = ()) -> tuple[int, ...]:
    """Pitches of the chord in one voicing, nearest (smallest total motion) to the previous one.

    close: the tones stacked within an octave; open: close with the second-lowest tone raised an
    octave; drop2: close with the second-highest tone dropped an octave; shell: root, third and
    seventh (a pianist's left-hand shell; a triad keeps its fifth). A shell without its root
    (third and fifth of a triad) is heard as the chord a third up (C: E-G is E minor) whenever the
    walking bass leaves the root, so the root stays in."""
    pcs = list(chord.pcs)
    if kind == "shell":
        pcs = [pcs[0], pcs[1], pcs[3]] if len(pcs) > 3 else pcs[:3]
    cands: list[tuple[int, ...]] = []
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        for base in range(lo, hi + 1):
            if base % 12 != order[0]:
                continue
            stack = close_voicing(base, order)
            if kind == "open" and len(stack) >= 3:
                stack[1] += 12
            elif kind == "drop2" and len(stack) >= 3:
                stack[-2] -= 12
            v = tuple(sorted(stack))
            if v[0] >= lo and v[-1] <= hi:
                cands.append(v)
    if not cands:  # nothing fits: the close voicing from the bottom of the range
        return tuple(sorted(nearest(pc, lo + 6, lo, hi) for pc in pcs))
    centre = (sum(prev) / len(prev)) if prev else (lo + hi) / 2

    def cost(v: tuple[int, ...]) -> float:
        if prev and len(prev) == len(v):
            return sum(abs(a - b) for a, b in zip(v, sorted(prev)))
        return abs(sum(v) / len(v) - centre) * len(v)
    return min(cands, key=cost)


def arp_tones(chord: ChordLike, spec: PartSpec) -> list[int]:
    """The arpeggio's ladder: chord tones from the lowest root in range, spec.span of them."""
    lo, hi = spec.range
    start = nearest(chord.root, lo, lo, hi)
    if start < lo:
        start += 12
    tones = [p for p in range(start, hi + 1) if p % 12 in chord.pcs][: spec.span]
    return tones or [start]


def arp_pitch(chord: ChordLike, spec: PartSpec, index: int) -> int:
    """The index-th note of the arpeggio (up, down, or up and down without repeating the ends)."""
    tones = arp_tones(chord, spec)
    if spec.order == "down":
        tones = tones[::-1]
    elif spec.order == "updown" and len(tones) > 2:
        tones = tones + tones[-2:0:-1]
    return tones[index % len(tones)]


def hits_before(cells: str, i: int) -> int:
    """How many hits come before cell i (the arpeggio's index within the section)."""
    return sum(1 for c in cells[:i] if c in "xXg")


# ------------------------------------------------------------------------------------ one step
def render_part(part: str, cell: str | None, cell_index: int, cells: str, chord: ChordLike | None,
                next_chord: ChordLike | None, spec: PartSpec | None, prev: Sequence[int], downbeat: bool,
                on_beat: bool, dynamics: int, scale: float, rng: random.Random, drum_note: int = 0,
                left: int = 99, changed: bool = False, first_beat: bool = False) -> Hit:
    """What `part` plays at a step whose grid cell is `cell` (None: between cells, it holds).
    prev: the part's pitches sounding now (for voice leading and for restriking on a chord change).
    left: steps until the part's next cell: a held note that no longer fits the chord is restruck
    in it if more than an 8th of it is left (a walking quarter is not broken up for its last 8th).
    changed: the chord begins at this step (a held chord part is revoiced in it, a held or silent
    bass restrikes on its root); first_beat: the step is in the chord's first beat, where every
    bass hit is the root, as a bassist plays it (the walk and the approach notes come after)."""
    if part.startswith("drums."):
        if cell is None or cell in ".-":
            return REST_HIT if prev else HOLD_HIT
        return Hit("note", (drum_note,), velocity_of(cell, spec or _DRUM_SPEC, downbeat, on_beat, dynamics, scale))
    assert spec is not None
    if chord is None:
        return REST_HIT if prev else HOLD_HIT
    if part == "bass" and first_beat:
        root = chord_tone(chord, "R")
        if cell is not None and cell not in ".-":
            cell = "R"
        elif changed and on_beat and left > 2 and not (prev and prev[0] % 12 == root):
            cell = "R"  # the chord arrives while the bass holds another note or rests
            downbeat = False
        elif changed and prev and prev[0] % 12 != root:
            # the plan corrected the chord just after the beat: the bass drops onto the new root
            # under the note it struck, so the root is what the beat is heard over
            lo = spec.range[0]
            p = prev[0] - (prev[0] - root) % 12
            if p >= lo:
                return Hit("note", (p,), velocity_of("x", spec, False, False, dynamics, scale))
            cell = "R"
    if cell is None or cell == "-":
        if (prev and left > 2 and (any(p % 12 not in chord.pcs for p in prev)
                                   or (changed and part in ("comp", "pad")
                                       and not set(chord.pcs) <= {p % 12 for p in prev}))
                and not (part == "bass" and _approach(prev, next_chord or chord))):
            cell = "x"  # the chord changed under a held note: the notes that change move to the new chord
            on_beat = downbeat = False
            revoice = True
        else:
            return HOLD_HIT
    else:
        revoice = False
    if cell == ".":
        return REST_HIT if prev else HOLD_HIT
    vel = velocity_of(cell if cell in "xXg" else "x", spec, downbeat, on_beat, dynamics, scale)
    lo, hi = spec.range
    if part == "bass":
        return Hit("note", (bass_pitch(cell, chord, next_chord, prev[0] if prev else None, spec, rng),), vel)
    if part == "arp":
        return Hit("note", (arp_pitch(chord, spec, hits_before(cells, cell_index)),), vel)
    return Hit("note", chord_voicing(chord, spec.voicing, lo, hi, prev), vel, revoice)


def _approach(prev: Sequence[int], next_chord: ChordLike | None) -> bool:
    """A held approach note leading into the next chord's root is not a clash to restrike."""
    if next_chord is None:
        return False
    root = next_chord.bass if next_chord.bass is not None else next_chord.root
    return all(min((p - root) % 12, (root - p) % 12) in (1, 2) for p in prev)


_DRUM_SPEC = PartSpec((0, 127), velocity=90, accent=20, ghost=35)
