"""The neural accompanist as a Generator, and melody continuation for call-and-response.

ModelGenerator plans step k from the player's input up to step k-2 (ctx.known_until) and its own
*committed* actions up to step k-1 (what the engine really played, which may come from the rules
fallback), so the recurrent state always follows what was heard. Each plan() runs the ONNX network
once (catching up first if steps were skipped); observe() only records what was committed.

MelodyModel.continue_melody(notes, steps_per_bar, start_step, n_steps) samples how the player's
line could go on (the model's melody head, trained on chorale sopranos and folk tunes).
"""
from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np

from liveai.neural import runtime as rt
from liveai.generators.base import HOLD, REST, STEPS_PER_BEAT, PlayerNote, StepContext, StepPlan, note
from liveai.music.theory import ChordSymbol
from liveai.harmony.planner import HarmonyPlanner
from liveai.harmony.voicing import VoicingWeights, choose_voicing, voice_options

VOICES = rt.VOICES
HEAD_INDEX = {h: i for i, h in enumerate(rt.HEADS)}
_VOICE_ROWS = [HEAD_INDEX[v] for v in VOICES]  # the voice heads, in VOICES order
MAX_CATCH_UP = 64


def player_state_at(player: Sequence[PlayerNote], t: int) -> tuple[tuple[int, int], int]:
    """((kind, pitch), steps since last onset) of the player's top line at step t, from the
    notes known so far. kind: 0 rest, 1 hold, 2 onset."""
    if t < 0:
        return (0, 0), -1
    top = None
    last_onset = None
    for n in player[-64:]:  # the recent notes are enough (player is sorted by start)
        if n.start_step > t:
            break  # player is sorted by start
        last_onset = n.start_step if last_onset is None else max(last_onset, n.start_step)
        if n.end_step is None or n.end_step > t:
            if top is None or n.pitch > top.pitch or (n.pitch == top.pitch and n.start_step > top.start_step):
                top = n
    since = (t - last_onset) if last_onset is not None else -1
    if top is None:
        return (0, 0), since
    return ((2 if top.start_step == t else 1), top.pitch), since


class ModelGenerator:
    """The ONNX accompanist: voices bass, tenor, alto (as the rules accompanist).

    Each step: the network hears the player (up to k-2), its own committed voices (k-1) and the
    planned chord of step k (StepContext.chord, from liveai.harmony.planner); its voice heads give
    how each voice would move, and liveai.harmony.voicing chooses the three voices together inside
    the planned chord. Without a plan in the context (offline callers) it plans for itself with
    the same planner, its listener head as the planner's neural guess."""

    name = "model"
    voices = VOICES
    ranges = rt.RANGES  # per voice (the reactive revoicing keeps to them too)

    def __init__(self, path: str | os.PathLike | None = None, seed: int = 0, temperature: float = 0.3,
                 top_p: float = 0.9, model: rt.AccompanistModel | None = None,
                 weights: VoicingWeights | None = None, planner: HarmonyPlanner | None = None) -> None:
        self.model = model or rt.AccompanistModel(path)
        self.seed, self.temperature, self.top_p = seed, temperature, top_p
        self.weights = weights or VoicingWeights()
        self.planner = planner or HarmonyPlanner(listener=self.listener_guess)
        self._feat = np.zeros(rt.FEATURE_DIM, np.float32)
        self.reset()

    def listener_guess(self) -> np.ndarray | None:
        """The listener head's P(pitch class in the coming chord) after the latest step."""
        return self.model.last_chord

    # -- Generator interface

    def reset(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self._state = self.model.initial_state()
        self._t = -1  # last step consumed into _state
        self._prev: tuple[int, np.ndarray] | None = None  # (step, state before it) for re-plans
        self._committed: dict[int, dict[str, tuple[int, int]]] = {}  # step -> voice -> (kind, pitch)
        self._chords: dict[int, tuple[tuple | None, bool]] = {}  # step -> (chord features, new)
        self._sounding: dict[str, int | None] = {v: None for v in VOICES}
        self._own_plan = -1
        self._chord_start = (-1, None)  # (step, chord) where the sounding chord began
        self.planner.reset()

    def plan(self, ctx: StepContext) -> StepPlan:
        k = ctx.step
        chord, new = self._chord_of(ctx)
        self._chords[k] = ((chord.root, chord.pcs, chord.bass) if chord is not None else None, new)
        if self._prev is not None and self._prev[0] == k:  # asked again for the same step
            self._state, self._t = self._prev[1], k - 1
        if k <= self._t or k - self._t - 1 > MAX_CATCH_UP:  # transport jumped: start afresh
            self._state, self._t = self.model.initial_state(), k - 1
        while self._t < k - 1:  # steps that were never planned (fallback played them)
            self._advance(self._t + 1, ctx, ctx.steps_per_bar)
        before = self._state
        logits = self._advance(k, ctx, ctx.steps_per_bar)
        self._prev = (k, before)
        t0 = time.perf_counter()
        out = self._decode(logits, ctx, chord, new)
        self.last_decode_s = time.perf_counter() - t0  # decoding alone (the network step excluded)
        return out

    def listen(self, ctx: StepContext) -> None:
        """Step the network while another part plays (a band style): its voices are decoded and
        taken as its own, never sounded, so its listener head keeps hearing a texture it knows and
        the chord planner keeps the neural guess it has with the model's own voices."""
        own = replace(ctx, sounding=dict(self._sounding))
        self.observe(own, self.plan(own))

    def observe(self, ctx: StepContext, committed: StepPlan) -> None:
        rec = {}
        for v in VOICES:
            act = committed.get(v, HOLD)
            cur = self._sounding.get(v)
            if act.kind == "note":
                cur = int(act.pitch)
                rec[v] = (2, cur)
            elif act.kind == "rest" or cur is None:
                cur = None
                rec[v] = (0, 0)
            else:
                rec[v] = (1, cur)
            self._sounding[v] = cur
        self._committed[ctx.step] = rec
        for old in [s for s in self._committed if s < ctx.step - MAX_CATCH_UP - 2]:
            del self._committed[old]
            self._chords.pop(old, None)

    # -- internals

    def _chord_of(self, ctx: StepContext) -> tuple[ChordSymbol | None, bool]:
        """The planned chord of this step: the engine's plan, or our own planner's."""
        if ctx.chord is not None:
            return ctx.chord, ctx.chord_new
        if ctx.step <= self._own_plan:
            self.planner.reset()
        self._own_plan = ctx.step
        cp = self.planner.plan(ctx.step, ctx.steps_per_bar, ctx.known_until, ctx.player, ctx.key_lock)
        return cp.chord, cp.new

    def _own(self, step: int, ctx: StepContext) -> dict[str, tuple[int, int]]:
        rec = self._committed.get(step)
        if rec is not None:
            return rec
        if step == ctx.step - 1:  # not observed: use the engine's view of what sounds
            return {v: ((1, p) if (p := ctx.sounding.get(v)) is not None else (0, 0)) for v in VOICES}
        return {v: (0, 0) for v in VOICES}

    def _advance(self, k: int, ctx: StepContext, spb: int) -> np.ndarray:
        sop, since = player_state_at(ctx.player, k - 2)
        own = self._own(k - 1, ctx)
        parts = [sop, own["alto"], own["tenor"], own["bass"]]
        chord, new = self._chords.get(k, (None, False))
        rt.encode_step(k, spb, parts, since, self._feat, chord, new)
        logits, self._state = self.model.step(self._feat, self._state)
        self._t = k
        return logits

    def _decode(self, logits: np.ndarray, ctx: StepContext, chord: ChordSymbol | None, new: bool) -> dict:
        """The voices of this step inside the planned chord (liveai.harmony.voicing)."""
        if chord is None:  # no harmony (the player is silent): rest what sounds
            return {v: (REST if ctx.sounding.get(v) is not None else HOLD) for v in VOICES}
        vel = int(max(1, min(127, ctx.velocity)))
        if chord != self._chord_start[1]:
            self._chord_start = (ctx.step, chord)
        fresh = ctx.step - self._chord_start[0] < STEPS_PER_BEAT  # the chord's first beat
        opts = {}
        hold_bias = float(np.log(1.0 / max(ctx.density, 0.05))) if ctx.density < 1.0 else 0.0
        # the three heads' raw logits: choose_voicing renormalises each voice over its options, so
        # a log-softmax over the whole vocabulary here would only add a constant per voice
        z = logits[_VOICE_ROWS].astype(np.float64)
        if hold_bias:
            z[:, rt.HOLD] += hold_bias
        for i, v in enumerate(VOICES):
            lp = z[i]
            lo, hi = rt.RANGES[v]
            opts[v] = voice_options(v, chord, ctx.sounding.get(v), lp, lo, hi, new, self.weights.reach,
                                    rt.pitch_token, rt.HOLD, rt.REST)
            if v == "bass" and fresh:  # the root stays in the bass through the chord's first beat
                want = (chord.bass if chord.bass is not None else chord.root) % 12
                keep = [o for o in opts[v] if o.pitch is not None and o.pitch % 12 == want
                        and (o.kind == "hold" or new)]
                if keep:
                    opts[v] = keep
        # the melody's pitch classes now: a voice starting on one of them only echoes the tune
        melody = {n.pitch % 12 for n in ctx.player[-8:]
                  if n.end_step is None or n.end_step > ctx.known_until - 1}
        (kind, top), _ = player_state_at(ctx.player, max(ctx.known_until, -1))
        choice = choose_voicing(chord, opts, ctx.sounding, new, tuple(melody),
                                ctx.step % STEPS_PER_BEAT == 0, self.weights, self.rng, self.temperature,
                                melody_top=top if kind else None)
        out = {}
        for v, o in choice.items():
            if o.kind == "note":
                out[v] = note(o.pitch, vel)
            elif o.kind == "rest":
                out[v] = REST
            else:
                out[v] = HOLD
        return out


class MelodyModel:
    """Melody continuation with the model's melody head (for call-and-response).

    continue_melody(notes, steps_per_bar, start_step, n_steps) reads the player's notes before
    start_step and returns sampled PlayerNotes for steps start_step .. start_step+n_steps-1
    (velocity = that of the last input note, or 80)."""

    def __init__(self, path: str | os.PathLike | None = None, seed: int = 0, temperature: float = 0.8,
                 top_p: float = 0.9, model: rt.AccompanistModel | None = None) -> None:
        self.model = model or rt.AccompanistModel(path)
        self.seed, self.temperature, self.top_p = seed, temperature, top_p

    def continue_melody(self, notes: Sequence[PlayerNote], steps_per_bar: int, start_step: int,
                        n_steps: int, history_steps: int = 256) -> list[PlayerNote]:
        rng = np.random.default_rng(self.seed)
        notes = sorted((n for n in notes if n.start_step < start_step), key=lambda n: n.start_step)
        vel = notes[-1].velocity if notes else 80
        first = max(0, start_step - history_steps)
        first -= first % steps_per_bar
        # the line as (kind, pitch) per step; known part from the notes
        line: dict[int, tuple[int, int]] = {}
        for t in range(first, start_step):
            clipped = [PlayerNote(n.pitch, n.velocity, n.start_step,
                                  n.end_step if n.end_step is not None and n.end_step <= start_step else None)
                       for n in notes]
            (kind, p), _ = player_state_at(clipped, t)
            line[t] = (kind, p)
        state = self.model.initial_state()
        feat = np.zeros(rt.FEATURE_DIM, np.float32)
        mask = rt.RANGE_MASKS["melody"]
        out: list[PlayerNote] = []
        cur: tuple[int, int] | None = None  # (pitch, start) of the generated note sounding
        last_on: int | None = None
        for k in range(first, start_step + n_steps + 1):
            t = k - 2
            sop = line.get(t, (0, 0))
            if sop[0] == 2:
                last_on = t
            since = (t - last_on) if last_on is not None and t >= 0 else -1
            rt.encode_step(k, steps_per_bar, [sop, (0, 0), (0, 0), (0, 0)], since, feat)
            logits, state = self.model.step(feat, state)
            s = k - 1  # the melody head predicts the player's step k-1
            if s < start_step or s >= start_step + n_steps:
                continue
            prev = line.get(s - 1, (0, 0))
            tok = rt.sample_token(logits[HEAD_INDEX["melody"]], rng, self.temperature, self.top_p, mask)
            if tok == rt.HOLD and prev[0] != 0:
                line[s] = (1, prev[1])
                continue
            if cur is not None:
                out.append(PlayerNote(cur[0], vel, cur[1], s))
                cur = None
            if tok >= 2:
                p = rt.token_pitch(tok)
                line[s] = (2, p)
                cur = (p, s)
            else:
                line[s] = (0, 0)
        if cur is not None:
            out.append(PlayerNote(cur[0], vel, cur[1], start_step + n_steps))
        return out
