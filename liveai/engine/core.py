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
from typing import Any, Callable

import mido

from liveai.engine.planning import COMMIT_SHARE, Planning, check_plan
from liveai.engine.player import PLAYER_WINDOW, SYNC_TYPES, PlayerInput
from liveai.engine.render import Rendering
from liveai.vocab import part_of
from liveai.engine.settings import EngineSettings, EngineStats, PartMix
from liveai.engine.voices import VoiceState
from liveai.generators.base import Generator, PlayerNote, StepPlan
from liveai.harmony.planner import HarmonyPlanner
from liveai.io.output import OutEvent
from liveai.io.scheduler import Scheduler
from liveai.timing.clock import Clock, Timer
from liveai.timing.transport import Transport
from liveai.music.meter import STEP_TICKS, TICKS_PER_BEAT, Meter
from liveai.vocab import check_mode, check_tempo

__all__ = ["Engine", "EngineSettings", "EngineStats", "PartMix", "part_of", "check_plan",
           "COMMIT_SHARE", "PLAYER_WINDOW", "SYNC_TYPES"]

log = logging.getLogger(__name__)


class Engine(PlayerInput, Planning, Rendering):
    """The engine's life cycle (start, stop, tempo, meter, mode, band), its wiring and status. Its
    jobs live in one mixin each: player.py (listening), planning.py (steps with deadline and
    fallback), render.py (mix and feel)."""

    def __init__(self, clock: Clock, scheduler: Scheduler, generator: Generator,
                 fallback: Generator, settings: EngineSettings | None = None, chord_model: Any = None) -> None:
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
        self._listening = False  # the model is stepping on the worker while a band plays
        self._guesses: dict[int, tuple[Any, Any]] = {}  # id(generator) -> (it, its listener's last guess)
        self.harmonizer: Any = None  # liveai.engine.modes.Harmonizer, for the reactive harmonize mode
        self._harmony: dict[int, list[OutEvent]] = {}
        self.input_map: Callable[[mido.Message], list[mido.Message]] | None = None
        self.tempo_follower: Any = None  # liveai.timing.tempo.TempoFollower with --follow-tempo
        self.programs: Any = None  # liveai.io.programs.PartPrograms: GM program per part (None: none sent)
        self._rng = random.Random(self.settings.seed)
        self.stats = EngineStats()
        # One chord plan for every part, the fallback included (a missed step never changes the
        # harmony); the model's listener head is its neural guess, the chord model
        # (liveai.neural.chordmodel) hears the melody frame by frame.
        self.planner = HarmonyPlanner(self.settings.harmony, listener=self._listener_guess, chord_model=chord_model)
        card = getattr(getattr(chord_model, "spec", None), "card", {})
        self.chord_model_name = "none" if chord_model is None else str(card.get("personal") or "builtin")
        self._pending_model: tuple | None = None  # (model, planner settings, name) chosen during a song
        self.chord_model_changed = False  # chosen over OSC since the start (a config save writes it)
        self.on_player: list[Callable[[mido.Message, float], None]] = []  # recorder, listeners
        self.on_stop: list[Callable[[], None]] = []
        self.sync_handlers: list[Callable[[mido.Message, float], None]] = []  # MIDI clock followers
        self.on_transport: list[Callable[[bool, float], None]] = []  # (running, time): MIDI clock out
        self._player: list[PlayerNote] = []
        self._open: dict[int, int] = {}
        self._voice_state = VoiceState(self.voices)  # what each voice sent and sounds, the steps not sent yet
        self._echoed: set[tuple[int, int]] = set()  # (channel, key) of player notes echoed (--thru)
        self._voice_vel: dict[str, int] = {}  # voice -> velocity of its latest planned note (a moved note keeps it)
        self._floor: dict[str, float] = {}  # part -> time of its latest planned events: the next never goes earlier
        self._history: deque[StepPlan] = deque(maxlen=64)
        self._plan_timer: Timer | None = None
        self._next_step = 0
        self._entry_step: int | None = None  # the step planned at the player's first note, hearing it
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

    def start(self, t: float | None = None, step: float = 0.0, entry: bool = False) -> None:
        """Start the transport at t (default now): that instant is beat 1 of bar 1 (or grid step
        `step`, for a clock source that continues mid-song). entry: the player's first note starts
        it, and the band comes in on that downbeat with it (step 0 is planned at once, hearing the
        note, and goes out a moment after it: no plan could be ahead of the first note)."""
        t = self.clock.now() if t is None else t
        self.transport.start(t)
        if step:
            self.transport.anchor(step, t, self.transport.bpm)
        self.running = True
        self._run += 1
        self._voice_state.forget_unsent()  # a step planned before is not amendable
        self._player.clear()
        self._open.clear()
        self._history.clear()
        self._reset_generators()
        self._committed_step = -1
        self._last_note_on = t
        # Step 0 coincides with the first note: planned at once when the note starts the song
        # (issue 28: the band comes in on the first downbeat), else joined from the next step.
        first = 0 if self.settings.start_now or entry else 1
        self._entry_step = math.ceil(step) if entry else None
        self._schedule_plan(math.ceil(step) + first)
        for fn in self.on_transport:
            fn(True, t)

    def _listener_guess(self) -> Any:
        """The listening generator's latest guess, as the worker handed it over (Planning._on_worker)."""
        gen = self._listening_model() or self.primary
        mine = self._guesses.get(id(gen))
        return mine[1] if mine is not None and mine[0] is gen else None

    def _listening_model(self) -> Any:
        """While a band style plays: the accompany mode's model, which keeps listening (its network
        steps on the worker, unheard) so that the band plans its chords with the same ears as the
        chorale style. None otherwise, or without a model."""
        if self.band is None or self._plain is None:
            return None
        gen = self._plain[0]
        return gen if hasattr(gen, "listen") and hasattr(gen, "listener_guess") else None

    def _reset_generators(self) -> None:
        """Reset both generators (and a listening model); a model that fails to reset must not stop
        the transport."""
        self.planner.reset()
        gens = [self.primary, self.fallback, self._listening_model()]
        for g in {id(g): g for g in gens if g is not None}.values():
            try:
                g.reset()
            except Exception:
                log.exception("generator %s failed to reset", getattr(g, "name", g))

    def retime(self, bpm: float, step: float, t: float) -> None:
        """Follow an external clock: from now on, grid step `step` (may be fractional) falls at
        time t and the tempo is bpm. Steps already committed keep their times; no note is cut."""
        self.transport.anchor(step, t, bpm)
        self.settings.tempo = self.transport.bpm
        if self.running and self._plan_timer is not None:
            self._schedule_plan(max(self._next_step, self._committed_step + 1))

    def stop_transport(self) -> None:
        """Stop playing: close every note; the next note-on starts again at bar 1."""
        if self._plan_timer is not None:
            self._plan_timer.cancel()
            self._plan_timer = None
        self.transport.stop()
        self.running = False
        self.release_all()
        if self._pending_model is not None:  # chosen during the song: it starts now
            self.set_chord_model(*self._pending_model)
        for fn in self.on_transport:
            fn(False, self.clock.now())

    def release_all(self) -> None:
        """Every sounding note off, CC123 on every channel used; voices start afresh."""
        self.scheduler.release_all()
        self._voice_state.release(self.voices)
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
            self._voice_state.new_voices(self.voices)  # a step planned before is not amendable
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

    def set_chord_model(self, chord_model: Any, harmony: Any, name: str) -> None:
        """Plan with another chord model (a player's own, OSC /liveai/model) and the planner
        settings its card asks for, from the next song: while playing, the song keeps the ears it
        began with and the new model takes over when the transport stops."""
        if self.running:
            self._pending_model = (chord_model, harmony, name)
            return
        self._pending_model = None
        self.settings.harmony = harmony
        self.planner = HarmonyPlanner(harmony, listener=self._listener_guess, chord_model=chord_model)
        self.chord_model_name = name
        self.chord_model_changed = True

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
            self._voice_state.new_voices(self.voices)  # a step planned before is not amendable
            self._history.clear()
            self._reset_generators()

    def snapshot(self) -> dict[str, Any]:
        """status() plus what the live view shows (liveai.view.live): the chord and the next one
        are the chord planner's latest (Engine.planner.last, a chord the player just struck
        included; the heard chord when nothing is planned), then the parts sounding and the
        counters. Built on the engine's loop; readers get a new dict each time."""
        snap = self.status()
        snap["playing"] = [v for v, p in self._voice_state.sounding.items() if p is not None]
        # the parts of what is playing: a band style's own (issue 28), else the generator's voices
        if self.band is not None:
            style = self.band.style
            snap["parts"] = list(style.parts) + (["drums"] if style.drum_map and "drums" not in style.parts else [])
        else:
            snap["parts"] = list(getattr(self.primary, "voices", ()))
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
                "corrections": self.planner.corrections, "next_in": self._beats_until(plan)}

    def _beats_until(self, plan) -> float:
        """Beats (of the meter) from now until the planned next chord starts; 0 when none is planned."""
        t = self.transport
        if plan is None or plan.next_chord is None or plan.next_start < 0 or not t.running:
            return 0.0
        beat_ticks = TICKS_PER_BEAT * 4 / t.meter.unit
        return max(0.0, (plan.next_start * STEP_TICKS - t.tick_at(self.clock.now())) / beat_ticks)
