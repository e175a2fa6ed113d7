"""Steps committed but not yet sent: the engine may still rewrite them.

The engine plans ahead, so when the player's note changes the chord (a struck chord, or a melody
note the plan could not take) several committed steps may still be waiting for the sender: the
note's own step and the ones after it (one with the default lookahead, more with a longer one or
a swung step). Both were planned with the old chord. The note's
own step takes the moved voices in place (no flam); a step after it is derived again from what
sounds once the voices have moved, with its old-chord notes held instead (so no note-off ever
names a pitch that is not sounding, and no old chord is struck again on top of the new one).

Pure functions on actions and voice state; the engine mixins do the sending.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from liveai.vocab import part_of
from liveai.generators.base import HOLD, VoiceAction
from liveai.io.output import OutEvent

PartNote = Callable[[str, int, int], OutEvent | None]


@dataclass
class UnsentStep:
    """One committed step whose events the sender has not taken yet.

    emitted and sounding are the voice state *before* the step (each voice's last note-on as
    (channel, pitch), and its planned pitch), from which its events are derived."""

    step: int
    when: float
    handle: Any  # liveai.io.scheduler.PendingEvents
    full: dict[str, VoiceAction]
    emitted: dict[str, tuple[int, int]]
    sounding: dict[str, int | None]
    chord_new: bool


class SplitHandle:
    """One step's events in two sends: on time, and the held parts (a pad, ringing chords) `bloom`
    seconds later. A held chord that blooms a moment after the beat sounds the same, and a downbeat
    note heard meanwhile still changes it in place: the old chord is never struck and cut (issue 28).
    As a PendingEvents, the step counts as sent once its first send went out."""

    __slots__ = ("first", "late", "parts")

    def __init__(self, first: Any, late: Any, parts: frozenset[str]) -> None:
        self.first, self.late, self.parts = first, late, parts

    @property
    def sent(self) -> bool:
        return self.first.sent

    def amend(self, events: list[OutEvent]) -> bool:
        """Replace the step's events (each to its send) if neither has gone out; False if too late."""
        first = [e for e in events if e.part not in self.parts]
        late = [e for e in events if e.part in self.parts]
        sched = getattr(self.first, "scheduler", None)
        if sched is not None:  # both at once, also where an output holds them ahead (the sender process)
            return sched.amend([(self.first, first), (self.late, late)])
        with self.first.lock, self.late.lock:
            if self.first.sent or self.late.sent:
                return False
            self.first.events, self.late.events = first, late
            return True


def waiting(unsent: list[UnsentStep]) -> list[UnsentStep] | None:
    """The steps the sender has not taken yet, oldest first (those it took are dropped from the
    front). None when it took one out of order, behind one still waiting: the chain of states
    from step to step is broken, and nothing may be derived again from it."""
    i = 0
    while i < len(unsent) and unsent[i].handle.sent:
        i += 1
    rest = unsent[i:]
    return None if any(u.handle.sent for u in rest) else rest


def derive(full: Mapping[str, VoiceAction], emitted: Mapping[str, tuple[int, int]],
           sounding: Mapping[str, int | None], part_note: PartNote
           ) -> tuple[list[OutEvent], list[OutEvent], dict[str, tuple[int, int]], dict[str, int | None]]:
    """The note-offs and note-ons that play one step's actions after the given voice state, and the
    state after the step. part_note renders a voice's note-on (None: the part is muted)."""
    emitted, sounding = dict(emitted), dict(sounding)
    offs: list[OutEvent] = []
    ons: list[OutEvent] = []
    for v, act in full.items():
        if act.kind == "hold":
            continue
        prev = emitted.pop(v, None)
        if prev is not None:
            offs.append(OutEvent.note_off(prev[0], prev[1], part_of(v)))
        if act.kind == "note":
            on = part_note(v, act.pitch, act.velocity)
            if on is not None:
                ons.append(on)
                emitted[v] = (on.channel, on.data1)
            sounding[v] = act.pitch
        else:
            sounding[v] = None
    return offs, ons, emitted, sounding


def fits(voice: str, pitch: int, chord: Any) -> bool:
    """A bass keeps to the chord's root (or its slash bass), every other voice to its tones."""
    if part_of(voice) == "bass":
        return pitch % 12 == (chord.bass if chord.bass is not None else chord.root) % 12
    return pitch % 12 in set(chord.pcs)


def keep_to(full: Mapping[str, VoiceAction], chord: Any) -> dict[str, VoiceAction]:
    """A step planned before the chord changed: its notes that clash with the new chord hold
    instead (the voices were already moved to it). Drums are not harmony."""
    return {v: (HOLD if a.kind == "note" and part_of(v) != "drums" and not fits(v, a.pitch, chord) else a)
            for v, a in full.items()}


def sent_anyway(old: tuple, emitted: Mapping[str, tuple[int, int]], sounding: Mapping[str, int | None],
                part_note: PartNote) -> tuple[dict, dict, list[OutEvent]]:
    """A step the sender took while it was being rewritten: its old events (old: its actions and the
    state they were derived from) went out after the state (emitted, sounding) instead. Returns the
    state after them and the note-offs for the notes those old events did not end (a voice moved
    before the step, which the old step struck again): so nothing hangs."""
    full, old_emitted, old_sounding = old
    _, _, old_after_e, old_after_s = derive(full, old_emitted, old_sounding, part_note)
    emitted, sounding = dict(emitted), dict(sounding)
    stale: list[OutEvent] = []
    for v, act in full.items():
        if act.kind == "hold":
            continue
        mine = emitted.pop(v, None)
        if mine is not None and mine != old_emitted.get(v):  # every note-on sent is owed its note-off
            stale.append(OutEvent.note_off(mine[0], mine[1], part_of(v)))
        if v in old_after_e:
            emitted[v] = old_after_e[v]
        sounding[v] = old_after_s.get(v)
    return emitted, sounding, stale
