"""Listening to the player: the input queue (flood-safe), the player's memory of notes, the thru
echo, the reactive harmonize mode, tempo following and hearing a played chord (the band moves to it
at once, amending the step the sender has not sent yet).

A mixin of liveai.engine.core.Engine: the state it reads and writes (_player, _open, _echoed,
_harmony, _voice_state, _floor, planner, transport) is set up in Engine.__init__; it runs on the engine's
clock, except post_input, which any thread may call. The voices' state changes only through its
methods (liveai.engine.voices.VoiceState).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import mido

from liveai.vocab import part_of
from liveai.engine.unsent import UnsentStep, derive, keep_to, sent_anyway
from liveai.generators.base import HOLD, PlayerNote, note
from liveai.harmony.voicing import parallels_with, repair, revoice
from liveai.io.output import OutEvent
from liveai.vocab import DRUM_CHANNEL

log = logging.getLogger(__name__)

MIN_SOUND_S = 0.03  # the shortest a band note struck on a step sounds when the player moves the chord at once

PLAYER_WINDOW = 256  # the player's most recent notes a generator is shown (keys and chords decay long before)
SYNC_TYPES = frozenset({"clock", "start", "stop", "continue", "songpos"})


class PlayerInput:
    """The engine's ears (see the module docstring)."""

    MAX_PENDING_INPUT = 256  # messages waiting for the engine loop; beyond that a flood is dropped

    def post_input(self, msg: mido.Message, t: float) -> None:
        """Hand a player message (timestamped on arrival) to the engine; any thread. A flood
        (more than MAX_PENDING_INPUT waiting) is dropped and counted, so it cannot grow memory or
        push the steps back; note-offs are always let through so nothing is left hanging."""
        if self._pending_input >= self.MAX_PENDING_INPUT and not (
                msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0)):
            self.stats.bad_input += 1
            if self.stats.bad_input in (1, 100, 10_000) or self.stats.bad_input % 100_000 == 0:
                log.warning("input flood: %d messages dropped so far", self.stats.bad_input)
            return
        self._pending_input += 1
        self.clock.call_soon(self._posted_input, msg, t)

    def _posted_input(self, msg: mido.Message, t: float) -> None:
        self._pending_input -= 1
        self.handle_input(msg, t)

    def handle_input(self, msg: mido.Message, t: float) -> None:
        kind = msg.type
        if kind in SYNC_TYPES:
            for fn in self.sync_handlers:
                fn(msg, t)
            return
        for fn in self.on_player:
            fn(msg, t)
        if self.input_map is not None and kind in ("note_on", "note_off"):
            mapped = self.input_map(msg)
            for m in mapped:
                self._player_note(m, t, echo=True)
            return
        self._player_note(msg, t, echo=self.settings.thru)

    def _player_note(self, msg: mido.Message, t: float, echo: bool) -> None:
        """The reactive outputs first (the --thru echo, harmonize's voices), then the listening
        (a struck chord, a melody correction, the tempo): a played note is never late because the
        band was thinking about it."""
        kind = msg.type
        if kind in ("note_on", "note_off") and msg.channel == DRUM_CHANNEL:  # (sysex, clock: no channel)
            return  # drums: recorded (on_player), never listened to for harmony, tempo or the start
        on = kind == "note_on" and msg.velocity > 0
        if on:
            remembered = self._note_on(msg, t)
        elif kind in ("note_off", "note_on"):
            self._note_off(msg, t)
        else:
            return
        if echo:  # one echo per key: a repeated note-on retriggers, a stray note-off is not echoed
            key = (msg.channel, msg.note)
            if on:
                evs = [OutEvent.note_on(msg.channel, msg.note, msg.velocity, "player")]
                if key in self._echoed:
                    evs.insert(0, OutEvent.note_off(msg.channel, msg.note, "player"))
                self._echoed.add(key)
            elif key in self._echoed:
                self._echoed.discard(key)
                evs = [OutEvent.note_off(msg.channel, msg.note, "player")]
            else:
                evs = []
            if evs:
                self.scheduler.now(evs)
        if self.settings.mode == "harmonize" and self.harmonizer is not None:
            self._harmonize(msg, on)
        if on and remembered:
            self._listen_to(msg, t)

    def _harmonize(self, msg: mido.Message, on: bool) -> None:
        """The reactive path: harmony voices at once for each melody note, closed with it."""
        offs = self._harmony.pop(msg.note, None)
        if offs:
            self.scheduler.now(offs)
        if not on or not self.transport.running:
            return
        step = self.transport.step_at(self.clock.now())
        h = self.harmonizer.harmonize(msg.note, self._player, step, self.settings.key_lock)
        vel = int(max(1, min(127, msg.velocity * 0.8)))
        ons = []
        for voice, pitch in h.notes:
            on = self._part_note(voice, pitch, vel)
            if on is not None:
                ons.append(on)
        self.scheduler.now(ons)
        self._harmony[msg.note] = [OutEvent.note_off(e.channel, e.data1, e.part) for e in ons]

    def _note_on(self, msg: mido.Message, t: float) -> bool:
        """Remember a played note (the first starts the transport). False: not remembered (the
        transport waits for its clock source)."""
        if not self.transport.running:
            if self.settings.external_clock:
                return False  # waiting for the clock source to start the transport
            self.start(t, entry=True)
        step = max(0, self.transport.step_at(t))
        if msg.note in self._open:
            self._note_off(msg, t)
        self._open[msg.note] = len(self._player)
        self._player.append(PlayerNote(msg.note, msg.velocity, step, None, t))
        if len(self._player) > 1024:  # keep recent memory bounded; indexes shift
            drop = len(self._player) - 512
            self._player = self._player[drop:]
            self._open = {p: i - drop for p, i in self._open.items() if i >= drop}
        return True

    def _listen_to(self, msg: mido.Message, t: float) -> None:
        """What a remembered note tells the band: a chord struck or a melody the plan cannot take
        (accompany), the tempo (--follow-tempo), the dynamics."""
        if self.settings.mode == "accompany":
            self._hear_chord(t)
        self._last_note_on = t
        if self.tempo_follower is not None and self.settings.follow_tempo:
            self._follow(t)
        self._vel = 0.75 * self._vel + 0.25 * msg.velocity

    def _hear_chord(self, t: float, min_notes: int = 3) -> None:
        """The player just struck notes: if they make a chord that changes the harmony, the band
        changes to it at once (voices that do not fit move now), as an arranger keyboard does; the
        plan follows it from the next step. A dyad waits for the chord window (the rest of the
        chord may be on its way)."""
        step = max(0, round(self.transport.step_at(t)))
        chord = self.planner.hear(self._player[-PLAYER_WINDOW:], step, min_notes)
        if chord is None and min_notes > 2 and self.primary.name != "rules":
            chord = self.planner.hear_melody(self._player[-PLAYER_WINDOW:], step, self.transport.steps_per_bar)
        if chord is None:
            if min_notes > 2:
                self._keep_clear_of_tune(step)
                self.clock.call_at(t + self.settings.harmony.chord_window_s, self._if_current,
                                   self._run, self._hear_chord, t, 2)
            return
        melody = () if self.planner.source == "played" else (self._player[-1].pitch % 12,)
        ranges = getattr(self.primary, "ranges", None)
        soprano = self._soprano_move() if self.planner.source != "played" else None
        own = self._voice_state.own_step(step)
        if own is not None:  # the note's own step has not sounded: voice it afresh, in place
            after = self._voice_state.after(own)
            moves = {} if ranges is None else repair(own.sounding, after, chord, ranges, True, melody,
                                                     self._soprano_move())
            if not moves:
                moves = revoice(after, chord, ranges=ranges, melody=melody, soprano=soprano)
            if self._rewrite(moves, chord, own):
                return
        self._rebloom(chord, ranges, melody, soprano)
        unsent = self._voice_state.waiting() or []
        moves = revoice(unsent[0].sounding if unsent else self._voice_state.sounding, chord, ranges=ranges,
                        melody=melody, soprano=soprano)
        if unsent and self._rewrite(moves, chord, None):
            return
        evs = self._voice_state.strike(moves, self._part_note, self._velocity())
        if evs:
            self._at_once(evs)  # a reaction (the reactive path): at once, after what it must not overtake

    def _rebloom(self, chord: Any, ranges: Any, melody: tuple, soprano: Any) -> None:
        """A step just went out but its held parts have not (they bloom, liveai.engine.unsent.
        SplitHandle): their voices that do not fit the new chord are changed in that send, so the
        old chord never sounds there. What follows is derived from the moved voices."""
        u = self._voice_state.blooming()
        if u is None:
            return
        parts = u.handle.parts
        held = [v for v in self.voices if part_of(v) in parts]
        _, _, _, after = derive(u.full, u.emitted, u.sounding, self._part_note)
        moves = {v: p for v, p in revoice(after, chord, ranges=ranges, melody=melody, soprano=soprano).items()
                 if v in held}
        if not moves:
            return
        vel = self._velocity()
        full = {v: u.full.get(v, HOLD) for v in held}
        full.update({v: note(p, self._voice_vel.get(v, vel)) for v, p in moves.items()})
        offs, ons, emitted, sounding = derive(full, u.emitted, u.sounding, self._part_note)
        if not u.handle.late.amend(offs + ons):
            return  # it went out meanwhile: the voices move at once, as after any sent step
        u.full = {**u.full, **full}
        self._voice_state.rebloomed(u, held, emitted, sounding)  # the rest is derived from the moved voices

    def _just_struck(self) -> dict[str, float]:
        """Part -> the earliest it may change: a part struck by the step now sounding keeps its
        notes at least MIN_SOUND_S (a chord struck and cut at once is a click on a synth, issue
        28), and at most half a step (the change stays before the next step, derived after it)."""
        now = self.clock.now()
        least = min(MIN_SOUND_S, 0.5 * self.transport.step_seconds)
        for j, full in enumerate(reversed(self._history)):
            t = self.transport.time_of_step(self._committed_step - j)
            if t > now + 1e-9:
                continue  # not sounding yet
            if t < now - least:
                break
            return {part_of(v): t + least for v, a in full.items() if a.kind == "note"}
        return {}

    def _at_once(self, events: list[OutEvent], floors: bool = True) -> None:
        """Send a reaction now, each part's after what it must not overtake: its notes just struck
        (_just_struck) and (floors) its events that cannot be rewritten (humanized, or sent early)."""
        now = self.clock.now()
        wait = self._just_struck()
        groups: dict[float, list[OutEvent]] = {}
        for ev in events:
            at = max(now, wait.get(ev.part, now), self._floor.get(ev.part, now) if floors else now)
            groups.setdefault(at, []).append(ev)
            self._floor[ev.part] = max(self._floor.get(ev.part, now), at)
        for at, evs in sorted(groups.items()):
            if at > now:
                self.scheduler.at(at, evs)
            else:
                self.scheduler.now(evs)

    def _soprano_move(self) -> tuple[int, int] | None:
        """(previous, new) pitch of the tune at the note just struck: the previous note counts only
        if it was still sounding when this one began."""
        if len(self._player) < 2:
            return None
        new, prev = self._player[-1], self._player[-2]
        if prev.start_step >= new.start_step or (prev.end_step is not None and prev.end_step < new.start_step):
            return None
        return prev.pitch, new.pitch

    def _keep_clear_of_tune(self, step: int) -> None:
        """A melody note struck at a step not yet sent: if the planned voices would move in parallel
        fifths or octaves with it, they are voiced again before the step sounds (the band listens)."""
        ranges = getattr(self.primary, "ranges", None)
        own = self._voice_state.own_step(step)
        sop = self._soprano_move()
        chord = self.planner.chord
        if ranges is None or own is None or sop is None or chord is None:
            return
        after = self._voice_state.after(own)
        if not parallels_with(sop, own.sounding, after):
            return
        moves = repair(own.sounding, after, chord, ranges, own.chord_new, (sop[1] % 12,), sop)
        if moves:
            self._rewrite(moves, None, own)

    def _rewrite(self, moves: dict[str, int], chord: Any, own: UnsentStep | None) -> bool:
        """Move voices to a chord heard at the step `own`, which has not been sent (its events are
        rewritten, so the planned chord never sounds there: no flam), or, with own None, at once.
        Every later unsent step is derived again from the moved voices, its notes that clash with
        `chord` held (None: none held), so none re-strikes the old chord or names a pitch that is
        not sounding. False (nothing done) when there is no unsent step to carry the change, or
        when `own` went out meanwhile (the caller then moves the voices at once)."""
        unsent = self._voice_state.waiting()
        if unsent is None:
            self._voice_state.forget_unsent()  # taken out of order: the old way (at once, after the part's events)
            return False
        if not unsent or (own is not None and own not in unsent):
            return False
        vel = self._velocity()
        moved = {v: note(p, self._voice_vel.get(v, vel)) for v, p in moves.items()}  # each part keeps its dynamics
        if own is not None:
            chain = unsent[unsent.index(own):]
            emitted, sounding = own.emitted, own.sounding
        else:
            chain = unsent
            offs, ons, emitted, sounding = derive(moved, unsent[0].emitted, unsent[0].sounding, self._part_note)
            if offs or ons:
                self._at_once(offs + ons, floors=False)  # (the unsent steps after it are derived again)
        for u in chain:
            old = (u.full, u.emitted, u.sounding)
            full = {**u.full, **moved} if u is own else (keep_to(u.full, chord) if chord is not None else u.full)
            offs, ons, after_e, after_s = derive(full, emitted, sounding, self._part_note)
            if u.handle.amend(offs + ons):
                u.full, u.emitted, u.sounding = full, emitted, sounding
            elif u is own:  # it went out meanwhile (nothing rewritten yet): the caller moves the voices now
                return False
            else:  # taken by the sender meanwhile: its old events went out; what they did not end, end now
                log.debug("step %d was sent while it was being rewritten", u.step)
                after_e, after_s, stale = sent_anyway(old, emitted, sounding, self._part_note)
                if stale:
                    self.scheduler.now(stale)
            emitted, sounding = after_e, after_s
        self._voice_state.rewritten(emitted, sounding)
        return True

    def _note_off(self, msg: mido.Message, t: float) -> None:
        i = self._open.pop(msg.note, None)
        if i is None or not self.transport.running:
            return
        n = self._player[i]
        self._player[i] = replace(n, end_step=max(n.start_step + 1, self.transport.step_at(t)))

    def _follow(self, t: float) -> None:
        """--follow-tempo: let the grid follow the player's onsets."""
        est = self.tempo_follower.onset(t, self.transport)
        if est is not None:
            bpm, step, at = est
            self.retime(bpm, step, at)

    def _velocity(self) -> int:
        """Dynamics follow the player's (and the energy control, if set)."""
        v = self._vel * 0.85
        ev = getattr(self, "_energy_velocity", None)
        if ev is not None:
            v = 0.5 * v + 0.5 * ev
        return int(max(30, min(120, v)))

