"""The band's voice state, with one owner: what each voice sent last (for its note-off), what it
sounds, and the committed steps the sender has not taken yet (still rewritable) with those whose
held parts have not bloomed.

The engine's mixins (core: start, stop, panic, mode and band changes; planning: committing a step;
player: a struck chord moving the voices, rewriting unsent steps) change it only through these
methods, each one transition, so what the band believes is sounding has one place to be read and
reasoned about. The pure step logic (derive, waiting, UnsentStep) stays in liveai.engine.unsent.
Engine thread only, like the rest of the engine's state.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from liveai.engine.unsent import PartNote, SplitHandle, UnsentStep, derive, waiting
from liveai.generators.base import VoiceAction
from liveai.io.output import OutEvent
from liveai.vocab import part_of


class VoiceState:
    """Voice -> last note-on sent (emitted) and pitch sounding, and the unsent and blooming steps.

    Read the attributes freely; change them only through the methods."""

    def __init__(self, voices: Sequence[str]) -> None:
        self.sounding: dict[str, int | None] = {v: None for v in voices}
        self.emitted: dict[str, tuple[int, int]] = {}  # voice -> (channel, pitch) it sent last, for its note-off
        self.unsent: list[UnsentStep] = []  # committed steps the sender has not taken yet, oldest first
        self.blooms: list[UnsentStep] = []  # committed steps whose held parts have not gone out yet

    # ------------------------------------------------------------------ resets
    def forget_unsent(self) -> None:
        """No step planned so far may be rewritten: a new song or mode, a step that went out
        unamendable (humanized), or one the sender took out of order."""
        self.unsent, self.blooms = [], []

    def release(self, voices: Sequence[str]) -> None:
        """Every note was ended (stop, panic, a tempo change): nothing sounds, nothing is owed."""
        self.sounding = {v: None for v in voices}
        self.emitted = {}
        self.unsent, self.blooms = [], []

    def new_voices(self, voices: Sequence[str]) -> None:
        """Another generator's voices take over (a mode or band change): none sounds yet, and no
        step planned for the old ones may be rewritten. The notes still owed note-offs stay owed."""
        self.unsent, self.blooms = [], []
        self.sounding = {v: None for v in voices}

    # ------------------------------------------------------------------ committing a step
    def commit(self, full: Mapping[str, VoiceAction], part_note: PartNote
               ) -> tuple[list[OutEvent], list[OutEvent], dict[str, tuple[int, int]], dict[str, int | None]]:
        """A committed step's note-offs and note-ons, derived from the state, which moves past it.
        Also returns the state before the step (emitted, sounding): an UnsentStep's starting point."""
        before_emitted, before = self.emitted, self.sounding
        offs, ons, self.emitted, self.sounding = derive(full, before_emitted, before, part_note)
        return offs, ons, before_emitted, before

    def hand_over(self, u: UnsentStep) -> None:
        """The step u went to the sender amendable: it and every step still waiting stay rewritable
        (dropping one would hang its notes), unless it went out already or the chain is broken; a
        step whose held parts bloom stays changeable there until they go out."""
        kept = waiting(self.unsent)
        self.unsent = [] if u.handle.sent or kept is None else kept + [u]
        self.blooms = [b for b in self.blooms if not b.handle.late.sent]
        if isinstance(u.handle, SplitHandle) and self.unsent:
            self.blooms.append(u)

    # ------------------------------------------------------------------ what may still change
    def waiting(self) -> list[UnsentStep] | None:
        """The unsent steps the sender has not taken (liveai.engine.unsent.waiting)."""
        return waiting(self.unsent)

    def own_step(self, step: int) -> UnsentStep | None:
        """The committed step a note struck at `step` belongs to, if the sender has not taken it."""
        for u in waiting(self.unsent) or ():
            if u.step == step:
                return u
        return None

    def after(self, u: UnsentStep) -> dict[str, int | None]:
        """What sounds once the unsent step u has (the state before the next one, or the latest)."""
        i = self.unsent.index(u)
        return self.unsent[i + 1].sounding if i + 1 < len(self.unsent) else self.sounding

    def blooming(self) -> UnsentStep | None:
        """A step that went out whose held parts have not (they bloom a moment later)."""
        return next((u for u in self.blooms if u.handle.sent and not u.handle.late.sent), None)

    # ------------------------------------------------------------------ a chord heard
    def strike(self, moves: Mapping[str, int], part_note: PartNote, velocity: int) -> list[OutEvent]:
        """Voices moved at once (no unsent step to carry the change): each one's note-off, then
        its note-on, voice by voice, to be sent now."""
        evs: list[OutEvent] = []
        for v, pitch in moves.items():
            prev = self.emitted.pop(v, None)
            if prev is not None:
                evs.append(OutEvent.note_off(prev[0], prev[1], part_of(v)))
            on = part_note(v, pitch, velocity)
            if on is not None:
                evs.append(on)
                self.emitted[v] = (on.channel, on.data1)
            self.sounding[v] = pitch
        return evs

    def rebloomed(self, u: UnsentStep, held: Sequence[str], emitted: Mapping[str, tuple[int, int]],
                  sounding: Mapping[str, int | None]) -> None:
        """The held voices of the blooming step u were moved in its late send (their state after
        it: emitted, sounding): what the rest is derived from follows them, the next unsent step's
        starting state, or the latest when none waits."""
        nxt = [w for w in waiting(self.unsent) or () if w.step > u.step]
        e, snd = (nxt[0].emitted, nxt[0].sounding) if nxt else (self.emitted, self.sounding)
        for v in held:
            if v in emitted:
                e[v] = emitted[v]
            else:
                e.pop(v, None)
            snd[v] = sounding.get(v)

    def rewritten(self, emitted: dict[str, tuple[int, int]], sounding: dict[str, int | None]) -> None:
        """The unsent steps were derived again from moved voices: the state after the last of them."""
        self.emitted, self.sounding = emitted, sounding
