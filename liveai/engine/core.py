"""The engine: listens to the player, plans each grid step ahead of time, hands notes to the sender.

Everything here runs on one control Clock (a real-time loop thread on stage, the SimClock in tests):
player input, OSC control and the step planner are callbacks on it, so there are no locks in the
musical logic. The Scheduler (sender) runs on a clock of its own in real time. The generator may
be slow or fail: the primary generator runs through clock.run_worker with a deadline, and the rules
fallback, planned every step anyway, plays any step the primary misses.
"""
from __future__ import annotations

import logging
import math
import random
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import mido

from liveai.timing.clock import Clock, Timer
from liveai.generators.base import HOLD, LOOKAHEAD_STEPS, Generator, PlayerNote, StepContext, StepPlan, visible_player
from liveai.harmony.planner import HarmonyPlanner, PlannerSettings
from liveai.harmony.voicing import revoice
from liveai.io.output import OutEvent
from liveai.io.scheduler import Scheduler
from liveai.timing.transport import Meter, Transport
from liveai.vocab import DEFAULT_CHANNELS, DRUM_CHANNEL, PARTS, check_mode, check_tempo

log = logging.getLogger(__name__)

COMMIT_SHARE = 0.25  # a step is committed at the latest a quarter step before it sounds: slack for a busy loop
PLAYER_WINDOW = 256  # the player's most recent notes a generator is shown (keys and chords decay long before)
SYNC_TYPES = frozenset({"clock", "start", "stop", "continue", "songpos"})




@dataclass
class EngineSettings:
    """What the engine needs to know to play (the config module fills it from TOML and flags)."""

    tempo: float = 120.0
    meter: Meter = field(default_factory=Meter)
    mode: str = "accompany"
    channels: dict[str, int] = field(default_factory=lambda: {p: DEFAULT_CHANNELS[p] for p in PARTS})
    thru: bool = False
    start_now: bool = False
    lookahead_steps: int = LOOKAHEAD_STEPS
    idle_bars: float = 2.0
    density: float = 1.0
    key_lock: int | None = None
    commit_margin: float = 0.002  # seconds before a step's time by which its notes are committed
    temperature: float = 1.0  # the generators' sampling temperature (set over OSC; saved by /liveai/config/save)
    style_blend: float = 0.0  # how much the call mode's answers lean on the learnt style (idem)
    external_clock: bool = False  # the transport follows a clock source (MIDI clock, Link), not the first note
    humanize_ms: float = 0.0  # standard deviation of timing variation (0: off)
    humanize_velocity: float = 0.0  # standard deviation of velocity variation (0: off)
    swing: float = 0.0  # 0 straight .. 1 full triplet swing of off-beat 8ths (and 16ths)
    swing_unit: int = 2  # steps: 2 swings 8ths, 1 swings 16ths
    follow_tempo: bool = False
    seed: int = 0
    mix: dict[str, PartMix] = field(default_factory=dict)  # per part; absent = PartMix()
    harmony: PlannerSettings = field(default_factory=PlannerSettings)  # the chord plan


@dataclass
class PartMix:
    """How one engine part is heard (OSC /liveai/<part>/mute, volume, octave); the channel is in
    EngineSettings.channels."""

    mute: bool = False
    volume: float = 1.0  # velocity scale; 0 is silent
    octave: int = 0


@dataclass
class EngineStats:
    steps: int = 0
    primary_steps: int = 0
    fallback_steps: int = 0
    late_steps: int = 0
    errors: int = 0
    bad_input: int = 0


class Engine:
    def __init__(self, clock: Clock, scheduler: Scheduler, generator: Generator,
                 fallback: Generator, settings: EngineSettings | None = None) -> None:
        self.clock = clock
        self.scheduler = scheduler
        self.settings = settings or EngineSettings()
        self.transport = Transport(self.settings.tempo, self.settings.meter)
        self.modes: dict[str, tuple[Generator, Generator]] = {}
        self.add_mode("accompany", generator, fallback)
        self.primary, self.fallback = self.modes["accompany"]
        self.voices = tuple(generator.voices)
        self.band: Any = None  # liveai.band.BandGenerator while a band style plays (None: the generator's voices)
        self._plain: tuple[Generator, Generator] | None = None  # the accompany pair a band replaces
        self.harmonizer: Any = None  # liveai.engine.modes.Harmonizer, for the reactive harmonize mode
        self._harmony: dict[int, list[OutEvent]] = {}
        self.input_map: Callable[[mido.Message], list[mido.Message]] | None = None
        self.tempo_follower: Any = None  # liveai.listening.TempoFollower with --follow-tempo
        self.programs: Any = None  # liveai.view.programs.PartPrograms: GM program per part (None: none sent)
        self._rng = random.Random(self.settings.seed)
        self.stats = EngineStats()
        # One chord plan for every part, the fallback included (a missed step never changes the
        # harmony); the model's listener head is its neural guess.
        self.planner = HarmonyPlanner(self.settings.harmony, listener=self._listener_guess)
        self.on_player: list[Callable[[mido.Message, float], None]] = []  # recorder, listeners
        self.on_stop: list[Callable[[], None]] = []
        self.sync_handlers: list[Callable[[mido.Message, float], None]] = []  # MIDI clock followers
        self.on_transport: list[Callable[[bool, float], None]] = []  # (running, time): MIDI clock out
        self._player: list[PlayerNote] = []
        self._open: dict[int, int] = {}
        self._sounding: dict[str, int | None] = {v: None for v in self.voices}
        self._emitted: dict[str, tuple[int, int]] = {}  # voice -> (channel, pitch) it sent last, for its note-off
        self._echoed: set[tuple[int, int]] = set()  # (channel, key) of player notes echoed (--thru)
        self._floor: dict[str, float] = {}  # part -> time of its latest planned events: the next never goes earlier
        self._history: deque[StepPlan] = deque(maxlen=64)
        self._plan_timer: Timer | None = None
        self._next_step = 0
        self._committed_step = -1
        self._busy = False
        self._run = 0  # bumped at each start and mode change: results planned before are stale
        self._last_note_on = float("-inf")
        self._vel = 80.0
        self._pending_input = 0
        self.running = False

    def add_mode(self, name: str, primary: Generator, fallback: Generator) -> None:
        """Register the generator pair of a mode (primary, and the fallback for missed steps)."""
        if tuple(primary.voices) != tuple(fallback.voices):
            raise ValueError("generator and fallback must have the same voices")
        self.modes[name] = (primary, fallback)

    # ------------------------------------------------------------------ player input
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
        kind = msg.type
        if kind in ("note_on", "note_off") and msg.channel == DRUM_CHANNEL:  # (sysex, clock: no channel)
            return  # drums: recorded (on_player), never listened to for harmony, tempo or the start
        if kind == "note_on" and msg.velocity > 0:
            self._note_on(msg, t)
        elif kind in ("note_off", "note_on"):
            self._note_off(msg, t)
        else:
            return
        if echo:  # one echo per key: a repeated note-on retriggers, a stray note-off is not echoed
            key = (msg.channel, msg.note)
            if kind == "note_on" and msg.velocity:
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
            self._harmonize(msg, kind == "note_on" and msg.velocity > 0)

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

    def _note_on(self, msg: mido.Message, t: float) -> None:
        if not self.transport.running:
            if self.settings.external_clock:
                return  # waiting for the clock source to start the transport
            self.start(t)
        step = max(0, self.transport.step_at(t))
        if msg.note in self._open:
            self._note_off(msg, t)
        self._open[msg.note] = len(self._player)
        self._player.append(PlayerNote(msg.note, msg.velocity, step, None, t))
        if self.settings.mode == "accompany":
            self._hear_chord(t)
        self._last_note_on = t
        if self.tempo_follower is not None and self.settings.follow_tempo:
            self._follow(t)
        self._vel = 0.75 * self._vel + 0.25 * msg.velocity
        if len(self._player) > 1024:  # keep recent memory bounded; indexes shift
            drop = len(self._player) - 512
            self._player = self._player[drop:]
            self._open = {p: i - drop for p, i in self._open.items() if i >= drop}

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
                self.clock.call_at(t + self.settings.harmony.chord_window_s, self._if_current,
                                   self._run, self._hear_chord, t, 2)
            return
        melody = () if self.planner.source == "played" else (self._player[-1].pitch % 12,)
        moves = revoice(self._sounding, chord, ranges=getattr(self.primary, "ranges", None), melody=melody)
        if moves and self._amend_step(moves):
            return
        evs: list[OutEvent] = []
        vel = self._velocity()
        for v, pitch in moves.items():
            prev = self._emitted.pop(v, None)
            if prev is not None:
                evs.append(OutEvent.note_off(prev[0], prev[1], part_of(v)))
            on = self._part_note(v, pitch, vel)
            if on is not None:
                evs.append(on)
                self._emitted[v] = (on.channel, on.data1)
            self._sounding[v] = pitch
        if evs:
            now = max([self.clock.now()] + [self._floor.get(part_of(v), 0.0) for v in moves])
            for v in moves:
                self._floor[part_of(v)] = now
            self.scheduler.at(now, evs)

    def _amend_step(self, moves: dict[str, int]) -> bool:
        """Move voices to a chord struck just before (or at) the step whose events the sender has
        not sent yet: those events are rewritten, so the planned chord never sounds (no flam)."""
        pend = getattr(self, "_pending_step", None)
        if pend is None or pend[0] < self.clock.now():
            return False
        when, pending, offs, on_of = pend
        vel = self._velocity()
        on_of = dict(on_of)
        extra_offs: list[OutEvent] = []
        for v, pitch in moves.items():
            on = self._part_note(v, pitch, vel)
            if v not in on_of:  # a held note: it ends now, at the step
                prev = self._emitted.get(v)
                if prev is not None:
                    extra_offs.append(OutEvent.note_off(prev[0], prev[1], part_of(v)))
            if on is None:
                on_of.pop(v, None)
            else:
                on_of[v] = on
        events = offs + extra_offs + list(on_of.values())
        if not pending.amend(events):
            return False
        for v, pitch in moves.items():
            on = on_of.get(v)
            if on is not None:
                self._emitted[v] = (on.channel, on.data1)
            else:
                self._emitted.pop(v, None)
            self._sounding[v] = pitch
        self._pending_step = (when, pending, offs + extra_offs, on_of)
        return True

    def _note_off(self, msg: mido.Message, t: float) -> None:
        i = self._open.pop(msg.note, None)
        if i is None or not self.transport.running:
            return
        n = self._player[i]
        self._player[i] = replace(n, end_step=max(n.start_step + 1, self.transport.step_at(t)))

    # ------------------------------------------------------------------ transport
    def start(self, t: float | None = None, step: float = 0.0) -> None:
        """Start the transport at t (default now): that instant is beat 1 of bar 1 (or grid step
        `step`, for a clock source that continues mid-song)."""
        t = self.clock.now() if t is None else t
        self.transport.start(t)
        if step:
            self.transport.anchor(step, t, self.transport.bpm)
        self.running = True
        self._run += 1
        self._player.clear()
        self._open.clear()
        self._history.clear()
        self._reset_generators()
        self._committed_step = -1
        self._last_note_on = t
        # Step 0 coincides with the first note; the engine joins from the next step it can plan.
        first = 0 if self.settings.start_now else 1
        self._schedule_plan(math.ceil(step) + first)
        for fn in self.on_transport:
            fn(True, t)

    def _listener_guess(self) -> Any:
        guess = getattr(self.primary, "listener_guess", None)
        return guess() if guess is not None else None

    def _reset_generators(self) -> None:
        """Reset both generators; a model that fails to reset must not stop the transport."""
        self.planner.reset()
        for g in {id(self.primary): self.primary, id(self.fallback): self.fallback}.values():
            try:
                g.reset()
            except Exception:
                log.exception("generator %s failed to reset", getattr(g, "name", g))

    def _follow(self, t: float) -> None:
        """--follow-tempo: let the grid follow the player's onsets."""
        est = self.tempo_follower.onset(t, self.transport)
        if est is not None:
            bpm, step, at = est
            self.retime(bpm, step, at)

    def retime(self, bpm: float, step: float, t: float) -> None:
        """Follow an external clock: from now on, grid step `step` (may be fractional) falls at
        time t and the tempo is bpm. Steps already committed keep their times; no note is cut."""
        self.transport.anchor(step, t, bpm)
        self.settings.tempo = self.transport.bpm
        if self.running and self._plan_timer is not None:
            self._schedule_plan(max(self._next_step, self._committed_step + 1))

    def _plan_time(self, step: int) -> float:
        return self.transport.time_of_step(step) - self.settings.lookahead_steps * self.transport.step_seconds

    def _schedule_plan(self, step: int) -> None:
        if self._plan_timer is not None:
            self._plan_timer.cancel()
        self._next_step = step
        self._plan_timer = self.clock.call_at(max(self._plan_time(step), self.clock.now()), self._plan, step)

    def stop_transport(self) -> None:
        """Stop playing: close every note; the next note-on starts again at bar 1."""
        if self._plan_timer is not None:
            self._plan_timer.cancel()
            self._plan_timer = None
        self.transport.stop()
        self.running = False
        self.release_all()
        for fn in self.on_transport:
            fn(False, self.clock.now())

    def release_all(self) -> None:
        """Every sounding note off, CC123 on every channel used; voices start afresh."""
        self.scheduler.release_all()
        self._sounding = {v: None for v in self.voices}
        self._emitted.clear()
        self._floor.clear()
        self._echoed.clear()
        self._harmony.clear()

    def panic(self) -> None:
        log.info("panic")
        self.release_all()

    def set_tempo(self, bpm: float) -> None:
        bpm = check_tempo(bpm)
        if self.transport.running:
            self.release_all()
            self.transport.set_tempo(bpm, from_step=self._next_step)
            self._schedule_plan(self._next_step)
        else:
            self.transport.set_tempo(bpm)
        self.settings.tempo = bpm

    def set_mode(self, mode: str) -> None:
        check_mode(mode, tuple(self.modes))
        if mode != self.settings.mode:
            self.release_all()
            self.settings.mode = mode
            self._run += 1
            self.primary, self.fallback = self.modes[mode]
            self.voices = tuple(self.primary.voices)
            self._sounding = {v: None for v in self.voices}
            self._history.clear()
            self._reset_generators()

    def tap(self, t: float) -> None:
        """Tap tempo (OSC /liveai/tap): the tempo follows the taps from the third one on."""
        if getattr(self, "_tapper", None) is None:
            from liveai.timing.tempo import TapTempo
            self._tapper = TapTempo()
        bpm = self._tapper.tap(t)
        if bpm is not None and abs(bpm - self.transport.bpm) > 0.05:
            self.set_tempo(round(bpm, 2))

    def set_energy(self, energy: float) -> None:
        """One number (a sensor, a fader) for how much the band plays: density and loudness."""
        if not 0.0 <= energy <= 1.0:
            raise ValueError(f"energy must be 0..1, not {energy}")
        self.settings.density = energy
        self._energy_velocity = 40 + 80 * energy
        if self.band is not None:
            self.band.set_energy(energy)

    def shutdown(self) -> None:
        """Final stop: nothing left sounding, outputs closed. Call once the sender loop is stopped
        (or on the simulated clock)."""
        if self._plan_timer is not None:
            self._plan_timer.cancel()
        self.running = False
        self.transport.stop()
        self.scheduler.release_all_now()
        for fn in self.on_stop:
            fn()

    # ------------------------------------------------------------------ planning
    def context(self, step: int) -> StepContext:
        """What the generators may know when they plan `step`, with the chord plan of that step.
        Called once a step, in order (the planner keeps its own state)."""
        known = step - self.settings.lookahead_steps - 1
        spb = self.transport.steps_per_bar
        player = visible_player(self._player[-PLAYER_WINDOW:], known)
        # The rules accompanist, when it is the chosen generator, keeps its own chord logic (it is
        # the baseline) and only takes the chords the player plays.
        melody = getattr(self.primary, "name", "") != "rules"
        cp = self.planner.plan(step, spb, known, player, self.settings.key_lock, melody=melody)
        return StepContext(step=step, steps_per_bar=spb, known_until=known,
                           player=player, sounding=dict(self._sounding),
                           history=tuple(self._history)[-16:], density=self.settings.density,
                           velocity=self._velocity(), key_lock=self.settings.key_lock,
                           chord=cp.chord, chord_new=cp.new, next_chord=cp.next_chord)

    def _velocity(self) -> int:
        """Dynamics follow the player's (and the energy control, if set)."""
        v = self._vel * 0.85
        ev = getattr(self, "_energy_velocity", None)
        if ev is not None:
            v = 0.5 * v + 0.5 * ev
        return int(max(30, min(120, v)))

    def _plan(self, step: int) -> None:
        if not self.running:
            return
        s = self.settings
        if (not s.start_now and not s.external_clock and s.idle_bars > 0 and not self._open
                and step > getattr(self.primary, "busy_until", -1)
                and self.clock.now() - self._last_note_on > s.idle_bars * self.transport.steps_per_bar * self.transport.step_seconds):
            log.info("player silent for %s bars: stopping until the next note", s.idle_bars)
            self.stop_transport()
            return
        self._schedule_plan(step + 1)
        ctx = self.context(step)
        try:
            fallback_plan = self.fallback.plan(ctx)
        except Exception:
            log.exception("fallback generator failed at step %d", step)
            fallback_plan = {}
        if self.primary is self.fallback:
            self._commit(step, ctx, fallback_plan, primary=True)
            return
        if self._busy:  # the primary is still working on an earlier step
            self.stats.late_steps += 1
            self._commit(step, ctx, fallback_plan, primary=False)
            return
        self._busy = True
        run = self._run
        margin = max(s.commit_margin, COMMIT_SHARE * self.transport.step_seconds)
        deadline = self.clock.call_at(self.transport.time_of_step(step) - margin,
                                      self._if_current, run, self._deadline, step, ctx, fallback_plan)
        self.clock.run_worker(lambda: self.primary.plan(ctx),
                              lambda res, err: self._if_current(run, self._primary_done, step, ctx, res, err,
                                                                deadline, fallback_plan))

    def _if_current(self, run: int, fn: Callable[..., None], *args: Any) -> None:
        """Call fn unless the transport restarted (or the mode changed) since the step was planned:
        a late answer from an earlier run must not play, nor silence the new run's steps."""
        if run == self._run:
            fn(*args)
        elif fn == self._primary_done:
            self._busy = False

    def _deadline(self, step: int, ctx: StepContext, fallback_plan: StepPlan) -> None:
        if self._committed_step < step and self.running:
            self.stats.late_steps += 1
            log.warning("generator %s missed step %d; rules played it", self.primary.name, step)
            self._commit(step, ctx, fallback_plan, primary=False)

    def _primary_done(self, step: int, ctx: StepContext, plan: Any, err: BaseException | None,
                      deadline: Timer, fallback_plan: StepPlan) -> None:
        self._busy = False
        if self._committed_step >= step or not self.running:
            return  # too late; the fallback already played this step
        deadline.cancel()
        if err is None:
            try:
                err_text = check_plan(plan, self.voices)
            except Exception as e:  # a plan that cannot even be read is garbage too
                err_text = f"unreadable plan: {type(e).__name__}: {e}"
        else:
            err_text = f"{type(err).__name__}: {err}"
        if err_text:
            self.stats.errors += 1
            log.warning("generator %s failed at step %d (%s); rules played it", self.primary.name, step, err_text)
            self._commit(step, ctx, fallback_plan, primary=False)
        else:
            self._commit(step, ctx, plan, primary=True)

    def _commit(self, step: int, ctx: StepContext, plan: StepPlan, primary: bool) -> None:
        """Turn one step's plan into events at the step's time, and tell the generators."""
        self._committed_step = step
        self.stats.steps += 1
        if primary:
            self.stats.primary_steps += 1
        else:
            self.stats.fallback_steps += 1
        full = {v: plan.get(v, HOLD) for v in self.voices}
        heard = self.planner.chord
        if self.planner.source in ("played", "corrected") and heard is not None and heard != ctx.chord:
            # a chord the player struck after this step was planned: nothing from the old plan
            # that clashes with it may sound (the voices were already moved to it)
            pcs = set(heard.pcs)
            full = {v: (HOLD if a.kind == "note" and a.pitch % 12 not in pcs and not v.startswith("drums")
                        else a) for v, a in full.items()}
        offs: list[OutEvent] = []
        ons: list[OutEvent] = []
        on_of: dict[str, OutEvent] = {}  # voice -> its note-on this step (a chord struck now may amend it)
        for v, act in full.items():
            if act.kind == "hold":
                continue
            prev = self._emitted.pop(v, None)
            if prev is not None:
                offs.append(OutEvent.note_off(prev[0], prev[1], part_of(v)))
            if act.kind == "note":
                on = self._part_note(v, act.pitch, act.velocity)
                if on is not None:
                    ons.append(on)
                    on_of[v] = on
                    self._emitted[v] = (on.channel, on.data1)
                self._sounding[v] = act.pitch
            else:
                self._sounding[v] = None
        if offs or ons:
            when = self.transport.time_of_step(step) + self._feel(step)
            # A retime, swing or humanize must never let a note-off overtake its note-on (a hung note).
            when = max([when] + [self._floor.get(ev.part, when) for ev in offs + ons])
            if self.settings.humanize_ms > 0 or self.settings.humanize_velocity > 0:
                self._humanized(when, offs, ons)
            else:
                for ev in offs + ons:
                    self._floor[ev.part] = when
                self._pending_step = (when, self.scheduler.at_amendable(when, offs + ons), offs, on_of)
        self._history.append(full)
        if self.primary is not self.fallback:
            self.clock.run_worker(lambda: self.primary.observe(ctx, full), lambda r, e: self._observe_done(e))
        try:
            self.fallback.observe(ctx, full)
        except Exception:
            log.exception("fallback observe failed")

    def _part_note(self, part: str, pitch: int, velocity: int) -> OutEvent | None:
        """The note-on a part really sends: its channel, octave and volume; None when muted."""
        part = part_of(part)  # a band voice ("comp.2", "drums.kick") plays on its part's channel
        mix = self.settings.mix.get(part)
        ch = self.settings.channels.get(part, 1) - 1
        if mix is not None:
            velocity = int(round(velocity * mix.volume))
            if mix.mute or velocity < 1:
                return None
            if part != "drums":  # a drum note is an instrument, not a pitch
                pitch += 12 * mix.octave
            while pitch > 127:
                pitch -= 12
            while pitch < 0:
                pitch += 12
        return OutEvent.note_on(ch, pitch, velocity, part)

    def set_part(self, part: str, mute: bool | None = None, volume: float | None = None,
                 octave: int | None = None, channel: int | None = None) -> None:
        """Mix one part. Takes effect from the part's next note; a sounding note ends as it began."""
        if part not in self.settings.channels:
            raise ValueError(f"unknown part {part!r}; parts: {', '.join(self.settings.channels)}")
        mix = self.settings.mix.setdefault(part, PartMix())
        if volume is not None and not 0.0 <= volume <= 1.0:
            raise ValueError(f"volume must be 0..1, not {volume}")
        if octave is not None and not -3 <= octave <= 3:
            raise ValueError(f"octave must be -3..3, not {octave}")
        if channel is not None and not 1 <= channel <= 16:
            raise ValueError(f"channel must be 1..16, not {channel}")
        if mute is not None:
            mix.mute = bool(mute)
        if volume is not None:
            mix.volume = float(volume)
        if octave is not None:
            mix.octave = int(octave)
        if channel is not None and int(channel) != self.settings.channels[part]:
            self.settings.channels[part] = int(channel)
            self.send_programs((part,))  # the synth's new channel needs the part's instrument

    def send_programs(self, parts: tuple[str, ...] | None = None) -> None:
        """Bank select and program change for these parts (default all) on their channels, at
        once: as an output opens, when a channel or a program changes, when a take starts."""
        if self.programs is not None:
            evs = self.programs.events(self.settings.channels, parts)
            if evs:
                self.scheduler.now(evs)

    def set_meter(self, meter: Meter) -> None:
        """A new meter. While playing, the transport restarts at the next step, which becomes beat 1
        of bar 1 (the pulse goes on; what was heard so far is forgotten, as at a new song)."""
        self.settings.meter = meter
        if not self.transport.running:
            self.transport.meter = meter
            return
        t = max(self.transport.time_of_step(self._next_step), self.clock.now())
        self.stop_transport()
        self.transport.meter = meter
        self.start(t)

    def set_generator(self, generator: Generator) -> None:
        """Swap the accompany mode's generator; its rules fallback stays (rules: the fallback itself).
        While a band style plays, the swap waits for the band to stop (the chorale style)."""
        _, fallback = self._plain or self.modes["accompany"]
        if generator.name == fallback.name:
            generator = fallback
        generator.reset()
        if self.band is not None:
            self._plain = (generator, fallback)
            return
        self.add_mode("accompany", generator, fallback)
        if self.settings.mode == "accompany":
            self.primary = generator

    def set_band(self, band: Any) -> None:
        """Play a band style (a liveai.band.BandGenerator) in accompany mode instead of the
        generator's voices, or None to go back to them (the chorale style). The band is its own
        fallback: it is pure and fast, so it never misses a step."""
        if band is self.band:
            return
        if self._plain is None:
            self._plain = self.modes["accompany"]
        pair = (band, band) if band is not None else self._plain
        self.band = band
        if band is None:
            self._plain = None
        self.add_mode("accompany", *pair)
        if self.settings.mode == "accompany":
            if self.running:
                self.release_all()
            self._run += 1
            self.primary, self.fallback = pair
            self.voices = tuple(self.primary.voices)
            self._sounding = {v: None for v in self.voices}
            self._history.clear()
            self._reset_generators()

    def _feel(self, step: int) -> float:
        """Swing: off-beat 8ths (or 16ths) late by up to a third of their pair (a triplet feel)."""
        s = self.settings
        swing = s.swing
        if swing <= 0 and self.band is not None and self.settings.mode == "accompany":
            swing = getattr(self.band, "engine_swing", 0.0)  # the band style's own swing
        if swing <= 0:
            return 0.0
        u = s.swing_unit
        if (step // u) % 2 == 1 and step % u == 0:
            return swing * (2 * u / 3 - u / 2) * 2 * self.transport.step_seconds
        return 0.0

    def _humanized(self, when: float, offs: list[OutEvent], ons: list[OutEvent]) -> None:
        """Each voice a little early or late and louder or softer, seeded (off by default). Never
        earlier than now, so planning ahead still holds."""
        s = self.settings
        groups: dict[str, list[OutEvent]] = {}
        for ev in offs + ons:
            groups.setdefault(ev.part, []).append(ev)
        now = self.clock.now()
        for part, evs in groups.items():
            dt = self._rng.gauss(0.0, s.humanize_ms / 1000.0) if s.humanize_ms > 0 else 0.0
            dt = max(-0.5 * self.transport.step_seconds, min(0.5 * self.transport.step_seconds, dt))
            out = []
            for ev in evs:
                if ev.kind == "on" and s.humanize_velocity > 0:
                    v = int(round(ev.data2 + self._rng.gauss(0.0, s.humanize_velocity)))
                    ev = OutEvent.note_on(ev.channel, ev.data1, max(1, min(127, v)), ev.part)
                out.append(ev)
            at = max(now, when + dt, self._floor.get(part, now))
            self._floor[part] = at
            self.scheduler.at(at, out)

    def _observe_done(self, err: BaseException | None) -> None:
        if err is not None:
            self.stats.errors += 1
            log.warning("generator %s observe failed: %s", self.primary.name, err)

    # ------------------------------------------------------------------ status
    def snapshot(self) -> dict[str, Any]:
        """status() plus what the live view shows (liveai.view.live): the chord and the next one
        are the chord planner's latest (Engine.planner.last, a chord the player just struck
        included; the heard chord when nothing is planned), then the parts sounding and the
        counters. Built on the engine's loop; readers get a new dict each time."""
        snap = self.status()
        snap["playing"] = [v for v, p in self._sounding.items() if p is not None]
        snap["follow"] = ("clock" if self.settings.external_clock else
                          "player" if self.settings.follow_tempo and self.tempo_follower is not None else "fixed")
        st = self.stats
        snap.update(steps=st.steps, fallback_steps=st.fallback_steps, late_steps=st.late_steps, errors=st.errors)
        return snap

    def status(self) -> dict[str, Any]:
        t = self.transport
        bar, beat = t.bar_beat(self.clock.now())
        key, chord = getattr(self.fallback, "current", lambda: (None, None))()
        plan = self.planner.last
        nxt = None
        if plan is not None and plan.chord is not None:
            chord, nxt = plan.chord, plan.next_chord
        key = self.planner.key or key
        return {"running": t.running, "bar": bar, "beat": beat, "tempo": t.bpm,
                "meter": str(t.meter), "mode": self.settings.mode, "generator": self.primary.name,
                "key": str(key) if key else "", "chord": str(chord) if chord else "",
                "next_chord": str(nxt) if nxt else "", "chord_source": plan.source if plan else "",
                "corrections": self.planner.corrections}


def part_of(voice: str) -> str:
    """The part (channel, mix, track) a voice plays in: 'comp.2' -> 'comp'; 'bass' -> 'bass'."""
    return voice.split(".", 1)[0]


def check_plan(plan: Any, voices: tuple[str, ...]) -> str:
    """Why a generator's plan is unusable ('' if it is fine): garbage from a model never plays."""
    if not hasattr(plan, "items"):
        return f"plan is {type(plan).__name__}, not a mapping"
    for v, act in plan.items():
        if v not in voices:
            return f"unknown voice {v!r}"
        kind = getattr(act, "kind", None)
        if kind not in ("hold", "rest", "note"):
            return f"bad action {act!r}"
        if kind == "note":
            p, vel = getattr(act, "pitch", None), getattr(act, "velocity", None)
            if not (isinstance(p, int) and 0 <= p <= 127 and isinstance(vel, int) and 1 <= vel <= 127):
                return f"bad note {act!r}"
    return ""
