"""The modes beyond plain accompaniment, as pure musical logic.

- call: CallResponse, a generator that waits for the player's phrase to end, then answers on the
  bar line with a development of the call's motifs, in its key and register, and falls silent
  the moment the player plays again.
- harmonize: Harmonizer, the reactive path: every melody note gets harmony voices at once.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from liveai.generators.base import HOLD, REST, STEPS_PER_BEAT, PlayerNote, StepContext, StepPlan, note
from liveai.music.stylememory import StyleMemory
from liveai.music.theory import ChordSymbol, Key, chord_scores, detect_key, nearest_pitch

log = logging.getLogger(__name__)
MELODY = ("melody",)


def snap_to_scale(pitch: int, key: Key) -> int:
    """The nearest pitch of the key's scale (ties go down)."""
    scale = key.scale
    for d in (0, -1, 1, -2, 2):
        if (pitch + d) % 12 in scale:
            return pitch + d
    return pitch


def degree_shift(pitch: int, steps: int, key: Key) -> int:
    """Move a pitch by `steps` scale degrees within the key."""
    p = snap_to_scale(pitch, key)
    direction = 1 if steps > 0 else -1
    for _ in range(abs(steps)):
        p += direction
        while p % 12 not in key.scale:
            p += direction
    return p


def phrase_before(notes: Sequence[PlayerNote], gap: int) -> list[PlayerNote]:
    """The last phrase: the last notes separated by rests shorter than gap steps."""
    if not notes:
        return []
    out = [notes[-1]]
    for n in reversed(notes[:-1]):
        first = out[-1]
        end = n.end_step if n.end_step is not None else first.start_step
        if first.start_step - end >= gap:
            break
        out.append(n)
    return list(reversed(out))


def answer_start(last_end: int, gap: int, steps_per_bar: int) -> int:
    """Where the answer begins: on the bar line once the call has ended (gap steps of silence);
    if the silence is only confirmed within the first beat after a bar line, on that beat."""
    earliest = last_end + gap
    bar = earliest - earliest % steps_per_bar
    if earliest == bar:
        return bar
    if earliest - bar <= STEPS_PER_BEAT:
        return bar + -(-(earliest - bar) // STEPS_PER_BEAT) * STEPS_PER_BEAT
    return bar + steps_per_bar


def develop(call: Sequence[tuple[int, int, int]], key: Key, length: int, rng: np.random.Generator,
            style: "StyleMemory | StyleBlend | None" = None, blend: float = 0.0,
            model_line: Sequence[tuple[int, int, int]] | None = None) -> list[tuple[int, int, int]]:
    """An answer of `length` steps from a call of (relative start, pitch, duration) notes: the call's
    rhythm and contour, transformed (sequence, inversion, retrograde or varied echo), blended with
    the player's style memory, kept in key and register, ending on a tonic-chord tone."""
    if not call:
        return []
    pitches = [p for _, p, _ in call]
    lo, hi = min(pitches) - 3, max(pitches) + 3
    if hi - lo < 7:
        lo, hi = lo - 2, hi + 2
    rhythm = [(s, d) for s, _, d in call]
    call_len = max(s + d for s, d in rhythm)
    # Repeat the call's rhythm to fill the answer, then cut at the end.
    slots: list[tuple[int, int]] = []
    offset = 0
    while offset < length and call_len > 0:
        for s, d in rhythm:
            if offset + s >= length:
                break
            slots.append((offset + s, min(d, length - offset - s)))
        offset += call_len
    if len(slots) < 3:  # too few onsets: subdivide into beats
        slots = [(s, STEPS_PER_BEAT) for s in range(0, length - STEPS_PER_BEAT + 1, STEPS_PER_BEAT)][:8] or [(0, length)]
    kinds = ["sequence", "inversion", "retrograde", "echo"]
    usable = [n for n in (model_line or ()) if 0 <= n[0] < length]
    if len(usable) >= 3:
        kinds.append("model")  # the model's own continuation of the call, one way among five
    kind = kinds[int(rng.integers(len(kinds)))]
    src = [snap_to_scale(p, key) for p in pitches]
    if kind == "sequence":
        shift = int(rng.choice([-2, -1, 1, 2]))
        contour = [degree_shift(p, shift, key) for p in src]
    elif kind == "inversion":
        axis = src[0]
        contour = [axis]
        for a, b in zip(src, src[1:]):
            contour.append(snap_to_scale(contour[-1] - (b - a), key))
    elif kind == "retrograde":
        contour = list(reversed(src))
    elif kind == "model":
        slots = [(st, min(d, length - st)) for st, _, d in usable]
        contour = [snap_to_scale(p, key) for _, p, _ in usable]
    else:  # echo: the first half as played, the rest a scale walk
        half = max(1, len(src) // 2)
        contour = src[:half]
        while len(contour) < len(src):
            contour.append(degree_shift(contour[-1], int(rng.choice([-1, 1, -2, 2])), key))
    out: list[tuple[int, int, int]] = []
    hist: list = []  # the answer's own history: style continues the answer, the motif carries the call
    prev: int | None = None
    pos = 0
    i = 0
    slot_starts = [st for st, _ in slots]
    while pos < length:
        sym = None
        if style is not None and blend > 0 and prev is not None and rng.random() < blend:
            sym = style.sample(hist, rng)  # the player's (or the profile's) own interval and rhythm
        if sym is not None:
            p = snap_to_scale(prev + sym[0], key)
            d = min(sym[1], length - pos)
        else:
            # the next note of the transformed motif, on the call's rhythm
            while i < len(slots) and slot_starts[i] < pos:
                i += 1
            if i >= len(slots):
                break
            if slot_starts[i] > pos and out:  # keep the call's rests
                pos = slot_starts[i]
            p, d = contour[i % len(contour)], slots[i][1]
            i += 1
        while p < lo:
            p += 12
        while p > hi:
            p -= 12
        if prev is not None:
            hist.append((max(-12, min(12, p - prev)), max(1, min(16, d))))
        out.append((pos, p, d))
        prev = p
        pos += d
    if not out:
        return []
    # Cadence: the last note on the nearest tonic-chord tone, held to the end.
    tonic_pcs = ChordSymbol(key.tonic, "min" if key.minor else "maj").pcs
    s, p, d = out[-1]
    best = min((q for q in range(lo - 2, hi + 3) if q % 12 in tonic_pcs), key=lambda q: (abs(q - p), q))
    out[-1] = (s, best, length - s)
    return out


class StyleBlend:
    """Sample from the live memory with probability w_live, else from the learnt profile."""

    def __init__(self, base: StyleMemory, live: StyleMemory, w_live: float) -> None:
        self.base, self.live, self.w_live = base, live, w_live

    def sample(self, history, rng: np.random.Generator):
        first, second = (self.live, self.base) if rng.random() < self.w_live else (self.base, self.live)
        return first.sample(history, rng) or second.sample(history, rng)


class CallResponse:
    """Call-and-response as a Generator with one voice, "melody"."""

    name = "call"
    voices = MELODY

    def __init__(self, seed: int = 0, gap_beats: float = 1.0, max_bars: int = 4,
                 style: StyleMemory | None = None, blend: float = 0.0, melody_model: Any = None) -> None:
        self.seed = seed
        self.melody_model = melody_model  # liveai.generators.neural.MelodyModel, if the model is there
        self.gap = max(1, int(round(gap_beats * STEPS_PER_BEAT)))
        self.max_bars = max_bars
        self.base_style = style
        self.blend = blend
        self.reset()

    def reset(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.key: Key | None = None
        self.answer: dict[int, tuple[int, int]] = {}  # absolute step -> (pitch, end step)
        self.answer_span = (0, 0)
        self.answered_call = -1  # start step of the last call answered
        self._learned_upto = 0
        if not hasattr(self, "live"):
            self.live = StyleMemory()  # the player's licks: kept for the whole session

    @property
    def busy_until(self) -> int:
        """The engine does not stop for the player's silence before the answer has ended."""
        return self.answer_span[1]

    def style(self) -> "StyleMemory | StyleBlend | None":
        """The style answers draw on: the learnt profile, taken over by the live memory of this
        session as the player plays more (Continuator-like), never merged into one table so the
        live memory's exact matches of the call cannot drown the profile."""
        if self.base_style is None:
            return self.live if self.live.n_symbols else None
        if not self.live.n_symbols:
            return self.base_style
        return StyleBlend(self.base_style, self.live, self.live.n_symbols / (self.live.n_symbols + 400.0))

    def _learn(self, player: Sequence[PlayerNote]) -> None:
        """Live style memory: learn each finished phrase of the player once."""
        done = [n for n in player if n.end_step is not None]
        if len(done) - self._learned_upto >= 4:
            new = done[max(0, self._learned_upto - 1):]
            self.live.learn_notes([(n.pitch, n.end_step - n.start_step) for n in new])
            self._learned_upto = len(done)

    def plan(self, ctx: StepContext) -> StepPlan:
        player = ctx.player
        sounding = ctx.sounding.get("melody")
        if not player:
            return {"melody": HOLD}
        last = player[-1]
        if last.end_step is None or (self.answer and last.start_step >= self.answer_span[0]):
            # The player plays (again): the engine keeps quiet.
            self.answer = {}
            self.answer_span = (0, 0)
            return {"melody": REST if sounding is not None else HOLD}
        call = phrase_before(player, self.gap)
        call_start = call[0].start_step
        last_end = max(n.end_step or 0 for n in call)
        if call_start != self.answered_call and ctx.step - last_end >= self.gap:
            start = answer_start(last_end, self.gap, ctx.steps_per_bar)
            if ctx.step >= start:
                self._learn(player)
                self.key = detect_key(player, ctx.known_until, self.key)
                self._make_answer(ctx, call, max(start, ctx.step), last_end)
        entry = self.answer.get(ctx.step)
        if entry is not None:
            return {"melody": note(entry[0], max(1, min(127, ctx.velocity)))}
        if sounding is not None and ctx.step >= self._end_of(sounding, ctx.step):
            return {"melody": REST}
        return {"melody": HOLD}

    def _end_of(self, pitch: int, step: int) -> int:
        ends = [e for s, (p, e) in self.answer.items() if s < step and p == pitch]
        return max(ends) if ends else self.answer_span[1]

    def _make_answer(self, ctx: StepContext, call: list[PlayerNote], start: int, last_end: int) -> None:
        spb = ctx.steps_per_bar
        call_start = call[0].start_step
        call_len = last_end - call_start
        bars = max(1, min(self.max_bars, -(-call_len // spb)))
        end_bar = (last_end + spb - 1) // spb * spb
        end = end_bar + bars * spb
        length = end - start
        self.answered_call = call_start
        if length < STEPS_PER_BEAT or self.key is None:
            return
        motif = [(n.start_step - call_start, n.pitch, (n.end_step or n.start_step + 1) - n.start_step) for n in call]
        notes = develop(motif, self.key, length, self.rng, self.style(), self.blend, self._model_line(ctx, start, length))
        self.answer = {start + s: (p, start + s + d) for s, p, d in notes}
        self.answer_span = (start, end)

    def _model_line(self, ctx: StepContext, start: int, length: int) -> list[tuple[int, int, int]] | None:
        """The model's melody head continuing the player's line from the answer's start."""
        if self.melody_model is None:
            return None
        try:
            cont = self.melody_model.continue_melody(ctx.player, ctx.steps_per_bar, start, length, history_steps=64)
        except Exception as e:  # a model fault never silences the answer
            log.warning("melody model failed (%s); answering from the motif", e)
            return None
        return [(n.start_step - start, n.pitch, (n.end_step or n.start_step + 1) - n.start_step) for n in cont]

    def observe(self, ctx: StepContext, committed: StepPlan) -> None:
        pass


@dataclass(frozen=True)
class Harmony:
    chord: ChordSymbol
    notes: tuple[tuple[str, int], ...]  # (voice, pitch)


RANGES = {"bass": (36, 55), "tenor": (48, 67), "alto": (53, 76)}


class Harmonizer:
    """Harmony for one melody note at once: the chord of the key that contains it (the current
    one if it fits), the alto and tenor on the chord tones just below it, the bass on the root."""

    def __init__(self) -> None:
        self.key: Key | None = None
        self.chord: ChordSymbol | None = None

    def reset(self) -> None:
        self.key = None
        self.chord = None

    def harmonize(self, pitch: int, player: Sequence[PlayerNote], now_step: int, key_lock: int | None = None) -> Harmony:
        if key_lock is not None:
            self.key = Key(key_lock % 12, self.key.minor if self.key else False)
        else:
            self.key = detect_key(player, now_step, self.key) or Key(pitch % 12)
        pc = pitch % 12
        if self.chord is None or pc not in self.chord.pcs:
            recent = [(pc, 3.0)] + [(n.pitch % 12, 0.5) for n in player[-4:-1]]
            cands = [c for _, c in chord_scores(self.key, recent, self.chord) if pc in c.pcs]
            self.chord = cands[0] if cands else ChordSymbol(pc, "maj")
        chord = self.chord
        below = [q for q in range(pitch - 3, pitch - 16, -1) if q % 12 in chord.pcs]
        alto = below[0] if below else pitch - 12
        tenor = next((q for q in below if q < alto and q % 12 != alto % 12), alto - 12)
        bass = nearest_pitch(chord.root, tenor - 10, *RANGES["bass"])
        return Harmony(chord, (("alto", alto), ("tenor", tenor), ("bass", bass)))


class Silent:
    """A generator that never plays: the step planner's partner in harmonize mode."""

    name = "silent"

    def __init__(self, voices: tuple[str, ...]) -> None:
        self.voices = voices

    def plan(self, ctx: StepContext) -> StepPlan:
        return {v: (REST if ctx.sounding.get(v) is not None else HOLD) for v in self.voices}

    def observe(self, ctx: StepContext, committed: StepPlan) -> None:
        pass

    def reset(self) -> None:
        pass
