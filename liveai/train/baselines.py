"""Baselines for the evaluation: a Markov accompanist (counts from the training chorales) and a
tonic drone. Both are Generators driven by liveai.evaluation.run_online like the model."""
from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from liveai.neural import runtime as rt
from liveai.generators.base import HOLD, REST, StepContext, StepPlan, note
from liveai.generators.neural import player_state_at

VOICES = rt.VOICES
PART_ROW = {"alto": 1, "tenor": 2, "bass": 3}


class MarkovAccompanist:
    """Per voice, the most frequent next token given (the player's pitch at k-2, the voice's own
    pitch at k-1, position in the beat), backing off to (player pitch, beat position) and then to
    holding. Greedy, so deterministic. Uses exactly the information the model gets at plan time."""

    name = "markov"
    voices = VOICES

    def __init__(self) -> None:
        self.t1: dict[str, dict] = {v: defaultdict(Counter) for v in VOICES}
        self.t2: dict[str, dict] = {v: defaultdict(Counter) for v in VOICES}
        self.reset()

    def fit(self, pieces, shifts_fn=None) -> "MarkovAccompanist":
        for p in pieces:
            for sh in (shifts_fn(p) if shifts_fn else [0]):
                roll = np.where(p.roll > 0, p.roll.astype(np.int16) + sh, 0)
                T = roll.shape[1]
                for v, row in PART_ROW.items():
                    t1, t2 = self.t1[v], self.t2[v]
                    for k in range(2, T):
                        sop = int(roll[0, k - 2])
                        prev = int(roll[row, k - 1])
                        cur = int(roll[row, k])
                        tok = rt.REST if cur == 0 else (rt.pitch_token(cur) if p.onset[row, k] else rt.HOLD)
                        t1[(sop, prev, k % 4)][tok] += 1
                        t2[(sop, k % 4)][tok if tok >= 2 else rt.pitch_token(cur) if cur else rt.REST] += 1
        return self

    def reset(self) -> None:
        self.sounding = {v: None for v in VOICES}

    def plan(self, ctx: StepContext) -> StepPlan:
        (kind, sop), _ = player_state_at(ctx.player, ctx.step - 2)
        sop = rt.fold_pitch(sop, 55, 88) if kind else 0
        out = {}
        for v in VOICES:
            prev = ctx.sounding.get(v) or 0
            c = self.t1[v].get((sop, prev, ctx.step % 4))
            if not c:
                c = self.t2[v].get((sop, ctx.step % 4))
            tok = c.most_common(1)[0][0] if c else rt.HOLD
            if tok == rt.REST:
                out[v] = REST
            elif tok == rt.HOLD:
                out[v] = HOLD
            else:
                out[v] = note(rt.token_pitch(tok), ctx.velocity)
        return out

    def observe(self, ctx: StepContext, committed: StepPlan) -> None:
        pass


class TonicDrone:
    """Holds the tonic (given) in all voices: the floor any accompanist must clear."""

    name = "drone"
    voices = VOICES

    def __init__(self, tonic_pc: int = 0) -> None:
        self.tonic = tonic_pc

    def reset(self) -> None:
        pass

    def plan(self, ctx: StepContext) -> StepPlan:
        if ctx.step == 0:
            return {"bass": note(36 + self.tonic, 70), "tenor": note(48 + self.tonic, 70),
                    "alto": note(60 + self.tonic, 70)}
        return {v: HOLD for v in VOICES}

    def observe(self, ctx: StepContext, committed: StepPlan) -> None:
        pass
