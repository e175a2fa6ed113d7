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
from typing import Mapping, Sequence

import numpy as np

from liveai import model as rt
from liveai.generators.base import HOLD, REST, STEPS_PER_BEAT, PlayerNote, StepContext, StepPlan, note
from liveai.generators.rules import recent_weights
from liveai.theory import MAJOR_PROFILE, MINOR_BIAS, MINOR_PROFILE, Key, diatonic_chords

VOICES = rt.VOICES
HEAD_INDEX = {h: i for i, h in enumerate(rt.HEADS)}
MAX_CATCH_UP = 64
# Runtime decoding, tuned on the validation chorales and synthetic plain tunes (not the test
# chorales): liveai.train.evaluate.decoding_search. These replace the chord weight / spread the
# model file's card suggests (chosen there without the priors below).
DECODING = {
    "chord_weight": 256.0,   # weight of log P(pitch class in the coming chord) against the voice heads
    "spread": 0.9,           # chord probability factor per voice already on that pitch class (steps 2, 3 of a beat)
    "early_spread": 0.3,     # the same on steps 0, 1 of a beat, before the beat's melody note is heard
    "key_prior": 1.0,        # factor for pitch classes outside the detected key (1 = off)
    "rules_blend": 0.3,      # geometric weight of the rules accompanist's chord confidence
    "rules_temperature": 0.5,
    "segment_memory": 0.5,   # geometric weight of the chord estimate averaged over the bar / half bar
    "hold_bonus": 0.0,       # extra score for holding off the beat
    "diatonic_window": 0,    # bars of melody that must stay in one scale for the priors to apply (0 = always)
}
DEFAULT_CHORD_WEIGHT = DECODING["chord_weight"]
DEFAULT_SPREAD = DECODING["spread"]
DEFAULT_KEY_PRIOR = DECODING["key_prior"]
DEFAULT_RULES_BLEND = DECODING["rules_blend"]
DEFAULT_HOLD_BONUS = DECODING["hold_bonus"]
DEFAULT_RULES_TEMPERATURE = DECODING["rules_temperature"]
DEFAULT_SEGMENT_MEMORY = DECODING["segment_memory"]
DEFAULT_DIATONIC_WINDOW = DECODING["diatonic_window"]
DEFAULT_EARLY_SPREAD = DECODING["early_spread"]
# key profiles as in liveai.theory.key_scores (order: tonic 0 major, 0 minor, 1 major, ...), centred
_PROFILES = np.array([np.roll(prof, t) for t in range(12) for prof in (MAJOR_PROFILE, MINOR_PROFILE)])
_PROFILES_C = _PROFILES - _PROFILES.mean(axis=1, keepdims=True)
_PROFILES_N = np.sqrt((_PROFILES_C ** 2).sum(axis=1))
_PROFILE_KEYS = [Key(t, m) for t in range(12) for m in (False, True)]
_PROFILE_BIAS = np.array([MINOR_BIAS if k.minor else 0.0 for k in _PROFILE_KEYS])


def fast_detect_key(notes: Sequence[PlayerNote], now_step: int, previous: Key | None = None,
                    margin: float = 0.1, half_life_steps: float = 64.0) -> Key | None:
    """liveai.theory.detect_key with the 24 correlations as one matrix product (about 30x faster;
    the same keys up to floating-point ties)."""
    if not notes:
        return previous
    h = np.zeros(12)
    for n in notes:
        end = n.end_step if n.end_step is not None else now_step + 1
        dur = max(1, min(end, now_step + 1) - n.start_step)
        age = max(0, now_step - n.start_step)
        h[n.pitch % 12] += dur * 0.5 ** (age / half_life_steps)
    hc = h - h.mean()
    hn = np.sqrt((hc ** 2).sum())
    if hn == 0.0:
        r = np.full(24, -1.0)
    else:
        r = (_PROFILES_C @ hc) / (_PROFILES_N * hn)
    r = r - _PROFILE_BIAS
    i = int(np.argmax(r))  # first of equal maxima, as the stable sort in theory.key_scores
    best = _PROFILE_KEYS[i]
    if previous is not None and best != previous:
        if r[i] - r[_PROFILE_KEYS.index(previous)] < margin:
            return previous
    return best


_CHORD_TABLES: dict = {}


def rules_chord_confidence(key: Key, recent: Sequence[tuple[int, float]], temperature: float = 0.5,
                           prior_weight: float = 0.6) -> np.ndarray:
    """theory.pc_confidence(theory.chord_scores(key, recent), temperature) as two small matrix
    products (no previous chord): per pitch class, the probability that the rules accompanist's
    chord holds it."""
    tab = _CHORD_TABLES.get(key)
    if tab is None:
        chords = diatonic_chords(key)
        gain = np.full((len(chords), 12), -0.3)
        member = np.zeros((len(chords), 12))
        for i, (c, _) in enumerate(chords):
            for pc in c.pcs:
                gain[i, pc] = 1.15 if pc == c.root else 1.0
                member[i, pc] = 1.0
        tab = _CHORD_TABLES[key] = (gain, member, np.array([w for _, w in chords]))
    gain, member, prior = tab
    w = np.zeros(12)
    for pc, x in recent:
        w[pc] += x
    sc = gain @ w + prior_weight * prior
    p = np.exp((sc - sc.max()) / temperature)
    p /= p.sum()
    return p @ member


# the 7-note sets a plain tune stays in: major scales (= natural minors) and harmonic minors
_DIATONIC_SETS = np.array([[float((pc - t) % 12 in d) for pc in range(12)]
                           for d in ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 11)) for t in range(12)])


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
    """The ONNX accompanist: voices bass, tenor, alto (as the rules accompanist)."""

    name = "model"
    voices = VOICES

    def __init__(self, path: str | os.PathLike | None = None, seed: int = 0, temperature: float = 0.3,
                 top_p: float = 0.9, model: rt.AccompanistModel | None = None,
                 chord_weight: float | None = None, spread: float | None = None,
                 key_prior: float | None = None, rules_blend: float | None = None,
                 hold_bonus: float | None = None, rules_temperature: float | None = None,
                 segment_memory: float | None = None, diatonic_window: int | None = None,
                 early_spread: float | None = None) -> None:
        self.model = model or rt.AccompanistModel(path)
        self.seed, self.temperature, self.top_p = seed, temperature, top_p
        if chord_weight is None:
            chord_weight = DEFAULT_CHORD_WEIGHT
        self.chord_weight = chord_weight if self.model.has_chord else 0.0
        if spread is None:
            spread = DEFAULT_SPREAD
        self.spread = spread
        # runtime priors on the listener's chord estimate (see _chord_estimate)
        self.key_prior = DEFAULT_KEY_PRIOR if key_prior is None else key_prior
        self.rules_blend = DEFAULT_RULES_BLEND if rules_blend is None else rules_blend
        self.hold_bonus = DEFAULT_HOLD_BONUS if hold_bonus is None else hold_bonus
        self.rules_temperature = DEFAULT_RULES_TEMPERATURE if rules_temperature is None else rules_temperature
        self.segment_memory = DEFAULT_SEGMENT_MEMORY if segment_memory is None else segment_memory
        self.diatonic_window = DEFAULT_DIATONIC_WINDOW if diatonic_window is None else diatonic_window
        self.early_spread = DEFAULT_EARLY_SPREAD if early_spread is None else early_spread
        # (spread on the first two steps of a beat; early_spread=spread turns it off)
        self._feat = np.zeros(rt.FEATURE_DIM, np.float32)
        self.reset()

    # -- Generator interface

    def reset(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self._state = self.model.initial_state()
        self._t = -1  # last step consumed into _state
        self._prev: tuple[int, np.ndarray] | None = None  # (step, state before it) for re-plans
        self._committed: dict[int, dict[str, tuple[int, int]]] = {}  # step -> voice -> (kind, pitch)
        self._sounding: dict[str, int | None] = {v: None for v in VOICES}
        self._mode: tuple[int, bool] | None = None
        self._key: Key | None = None
        self._key_beat = -1
        self._key_pcs = np.ones(12)
        self._seg: tuple[int, np.ndarray, int] | None = None  # (segment start, sum of estimates, count)
        self._plain = 1.0

    def plan(self, ctx: StepContext) -> StepPlan:
        k = ctx.step
        if self._prev is not None and self._prev[0] == k:  # asked again for the same step
            self._state, self._t = self._prev[1], k - 1
        if k <= self._t or k - self._t - 1 > MAX_CATCH_UP:  # transport jumped: start afresh
            self._state, self._t = self.model.initial_state(), k - 1
        while self._t < k - 1:  # steps that were never planned (fallback played them)
            self._advance(self._t + 1, ctx, ctx.steps_per_bar)
        before = self._state
        logits = self._advance(k, ctx, ctx.steps_per_bar)
        t0 = time.perf_counter()
        self._chord = self._chord_estimate(self.model.last_chord, ctx)
        self._prev = (k, before)
        out = self._sample(logits, ctx)
        self.last_decode_s = time.perf_counter() - t0  # decoding alone (the network step excluded)
        return out

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

    # -- internals

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
        rt.encode_step(k, spb, parts, since, self._feat)
        logits, self._state = self.model.step(self._feat, self._state)
        self._t = k
        return logits

    def _chord_estimate(self, chord: np.ndarray | None, ctx: StepContext) -> np.ndarray | None:
        """The listener's P(pitch class in the coming chord), sharpened by what a musician knows:
        pitch classes outside the key detected so far (liveai.theory.detect_key, once a beat; the
        leading tone counts as in a minor key) are multiplied by key_prior (1 = off), and the
        result is blended geometrically (weight rules_blend) with the rules accompanist's chord
        confidence on the same visible melody (theory.chord_scores / pc_confidence)."""
        if chord is None or (self.key_prior >= 1.0 and self.rules_blend <= 0.0 and self.segment_memory <= 0.0) \
                or not ctx.player:
            return chord
        now = max(ctx.known_until, 0)
        beat = now // STEPS_PER_BEAT
        if beat != self._key_beat:
            self._key_beat = beat
            if ctx.key_lock is not None:
                self._key = Key(ctx.key_lock % 12, self._key.minor if self._key else False)
            else:
                self._key = fast_detect_key(ctx.player, now, self._key)
            if self.diatonic_window > 0:  # does the recent melody stay in one 7-note scale?
                lo = now - self.diatonic_window * ctx.steps_per_bar
                h = np.zeros(12)
                for n in reversed(ctx.player):
                    if n.start_step < lo and (n.end_step is not None and n.end_step <= lo):
                        break
                    h[n.pitch % 12] += max(1, min(n.end_step if n.end_step is not None else now + 1, now + 1)
                                           - max(n.start_step, lo))
                self._plain = float((_DIATONIC_SETS @ h).max() >= h.sum() - 1e-9) if h.sum() else 1.0
            if self._key is not None:
                pcs = set(self._key.scale) | ({(self._key.tonic + 11) % 12} if self._key.minor else set())
                self._key_pcs = np.array([1.0 if pc in pcs else self.key_prior for pc in range(12)])
        if self._key is None:
            return chord
        c = chord.astype(np.float64) * self._key_pcs
        if self.rules_blend > 0.0 and self._plain > 0.0:

            spb = ctx.steps_per_bar
            seg = spb // 2 if spb // STEPS_PER_BEAT >= 4 and spb // STEPS_PER_BEAT % 2 == 0 else spb
            conf = rules_chord_confidence(self._key, recent_weights(ctx.player, ctx.known_until, seg),
                                          self.rules_temperature)
            b = self.rules_blend * self._plain
            c = np.clip(c, 1e-4, 1.0) ** (1.0 - b) * np.clip(conf, 1e-4, 1.0) ** b
        if self.segment_memory > 0.0 and self._plain > 0.0:  # harmonic rhythm: a chord mostly lasts its bar / half bar
            spb = ctx.steps_per_bar
            seg = spb // 2 if spb // STEPS_PER_BEAT >= 4 and spb // STEPS_PER_BEAT % 2 == 0 else spb
            rel = ctx.step_in_bar % seg
            start = ctx.step - rel
            if self._seg is None or self._seg[0] != start:
                self._seg = (start, np.zeros(12), 0)
            if rel >= 2:  # from here the estimate hears the segment's own melody
                st, acc, n = self._seg
                acc = acc + np.log(np.clip(c, 1e-4, 1.0))
                self._seg = (st, acc, n + 1)
                mem = np.exp(acc / (n + 1))
                a = self.segment_memory * self._plain
                c = np.clip(c, 1e-4, 1.0) ** (1.0 - a) * mem ** a
        return c

    def _key_mask(self, ctx: StepContext) -> np.ndarray | None:
        if ctx.key_lock is None:
            return None
        tonic = ctx.key_lock % 12
        if self._mode is None or self._mode[0] != tonic or ctx.step % 16 == 0:
            pd = [(n.pitch, (n.end_step or ctx.known_until + 1) - n.start_step) for n in ctx.player[-64:]]
            self._mode = (tonic, rt.guess_minor(tonic, pd))
        return rt.scale_mask(tonic, self._mode[1])

    def _sample(self, logits: np.ndarray, ctx: StepContext) -> dict:
        kmask = self._key_mask(ctx)
        vel = int(max(1, min(127, ctx.velocity)))
        out = {}
        avoid: dict[int, float] = {}
        spread = self.spread
        if ctx.step % STEPS_PER_BEAT < 2:
            spread = self.early_spread  # the new beat's melody is not heard yet: hedge on likely tones
        if spread < 1.0:
            (kind, sp), _ = player_state_at(ctx.player, ctx.step - 2)
            if kind:
                avoid[sp % 12] = min(1.0, 2 * spread)
        for v in VOICES:  # bass, tenor, alto: each avoids doubling what the others took
            lg = logits[HEAD_INDEX[v]].copy()
            mask = rt.RANGE_MASKS[v].copy()
            if kmask is not None:
                mask &= kmask
            if ctx.density < 1.0:  # sparser: favour holding on
                lg[rt.HOLD] += float(np.log(1.0 / max(ctx.density, 0.05)))
            if self.chord_weight > 0 and self.model.last_chord is not None:
                lg = rt.chord_aware_scores(lg, self._chord, ctx.sounding.get(v), self.chord_weight, mask, avoid)
            if self.hold_bonus and ctx.step % STEPS_PER_BEAT and ctx.sounding.get(v) is not None:
                lg[rt.HOLD] += self.hold_bonus  # harmonic rhythm: change mostly on beats
            tok = rt.sample_token(lg, self.rng, self.temperature, self.top_p, mask)
            pc = (rt.token_pitch(tok) if tok >= 2 else
                  ctx.sounding.get(v) if tok == rt.HOLD and ctx.sounding.get(v) is not None else None)
            if pc is not None and spread < 1.0:
                avoid[pc % 12] = avoid.get(pc % 12, 1.0) * spread
            if tok == rt.REST:
                out[v] = REST
            elif tok == rt.HOLD:
                out[v] = HOLD
            else:
                out[v] = note(rt.token_pitch(tok), vel)
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
