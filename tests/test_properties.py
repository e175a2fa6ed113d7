"""Property tests (issue 8, part 1): never a hung note.

The real engine and sender run on the simulated clock while hypothesis throws random performances
at them: overlapping same-pitch notes, note-offs without note-ons, zero-velocity note-ons, tempo and
mode changes, retimes from an external clock, panics, transport stops and restarts, and a primary
generator that raises, returns garbage or is slow. After every single clock callback the test checks:

- the sender's NoteTracker (what the engine believes is sounding) is exactly what is sounding at
  the output, replayed from the ListOutput's events (no double note-on, no stray note-off);
- every engine voice sounds at most one pitch (a reordered or lost note-off would leave a second
  one hanging, which the tracker would still "know" about);
- with --thru, once the input is handled, the player's echo sounds only keys the player holds;
- no callback raised;

and at the end every note is closed.

Case count: LIVEAI_PROPERTY_EXAMPLES (default 300 per test; the acceptance run uses 10,000):

    LIVEAI_PROPERTY_EXAMPLES=10000 python -m pytest -q tests/test_properties.py
"""
from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass

import mido
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveai.clock import SimClock
from liveai.engine import Engine, EngineSettings
from liveai.generators.base import HOLD, REST, VoiceAction, note
from liveai.generators.rules import RulesAccompanist
from liveai.output import CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF, ListOutput
from liveai.scheduler import Scheduler

EXAMPLES = int(os.environ.get("LIVEAI_PROPERTY_EXAMPLES", "300"))
VOICES = ("bass", "tenor", "alto")

PROFILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 1000,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                   database=None)


class CheckedClock(SimClock):
    """A SimClock that runs checks after every callback and records callbacks that raised (the
    real clock logs and survives them; here any of them is a bug)."""

    def __init__(self) -> None:
        super().__init__()
        self.checks: list = []
        self.errors: list[BaseException] = []

    def _call(self, t) -> None:  # type: ignore[override]
        try:
            t.fn(*t.args)
        except Exception as e:
            self.errors.append(e)
        for check in self.checks:
            check()

    def quiescent(self) -> bool:
        """No call_soon work queued (input handled, echoes sent)."""
        return not any(w == float("-inf") and not tm.cancelled for w, _, tm in self._heap)


class _BadMapping(dict):
    def items(self):
        raise RuntimeError("items() exploded")


GARBAGE = [None, 42, "bass", [], [("bass", HOLD)], {"drums": note(60, 80)}, {"bass": "note"},
           {"bass": note(300, 80)}, {"bass": note(-1, 80)}, {"bass": VoiceAction("note", 60, 0)},
           {"bass": VoiceAction("note", 60, 200)}, {"bass": VoiceAction("note", 60.5, 80)},
           {"bass": VoiceAction("boom")}, {"bass": VoiceAction("note", float("nan"), 80)},
           _BadMapping(bass=HOLD)]


class ScriptedGenerator:
    """A cheap deterministic accompanist (the rules one costs ~2 ms a step, too slow for 10,000
    cases): random holds, rests and notes from a small pitch pool so that voices share pitches.
    mode makes it raise, return garbage, or (with the clock's simulated_cost) be slow."""

    voices = VOICES

    def __init__(self, name: str, seed: int, pitches: tuple[int, ...]) -> None:
        self.name = name
        self.seed = seed
        self.pitches = pitches
        self.mode = "ok"
        self.calls = 0

    def plan(self, ctx):
        self.calls += 1
        rnd = random.Random(self.seed * 100_003 + ctx.step)
        if self.mode == "raise":
            raise RuntimeError("model exploded")
        if self.mode == "garbage":
            return GARBAGE[rnd.randrange(len(GARBAGE))]
        plan = {}
        for v in self.voices:
            r = rnd.random()
            if r < 0.4:
                plan[v] = note(rnd.choice(self.pitches), rnd.randint(1, 127))
            elif r < 0.55:
                plan[v] = REST
            elif r < 0.8:
                plan[v] = HOLD
            # else: left out, which holds
        return plan

    def observe(self, ctx, committed) -> None:
        if self.mode == "raise":
            raise RuntimeError("observe exploded")

    def reset(self) -> None:
        if self.mode == "raise":
            raise RuntimeError("reset exploded")


class SilentGenerator:
    name = "silent"
    voices = VOICES

    def plan(self, ctx):
        return {}

    def observe(self, ctx, committed) -> None:
        pass

    def reset(self) -> None:
        pass


# ---------------------------------------------------------------------------- strategies
pitch = st.integers(58, 64)  # few pitches: overlaps and shared keys are the point
channel = st.integers(0, 2)  # player channels; 1 and 2 are engine channels too (thru collisions)
delay = st.sampled_from([0.0, 0.0, 0.001, 0.01, 0.05, 0.12, 0.3, 0.7, 1.5])

action = st.one_of(
    st.tuples(st.just("on"), pitch, st.integers(0, 127), channel),  # velocity 0 is a note-off
    st.tuples(st.just("on"), pitch, st.integers(1, 127), channel),
    st.tuples(st.just("off"), pitch, channel),
    st.tuples(st.just("tempo"), st.one_of(st.floats(20, 400), st.sampled_from([19.9, 401.0, math.nan, math.inf]))),
    st.tuples(st.just("mode"), st.sampled_from(["accompany", "polka", ""])),
    st.tuples(st.just("retime"), st.floats(20, 400), st.floats(-3.0, 3.0)),
    st.just(("panic",)),
    st.just(("stop",)),
    st.just(("start",)),
    st.tuples(st.just("fault"), st.sampled_from(["ok", "raise", "garbage", "slow"]), st.sampled_from([0.001, 0.02, 0.2, 2.0])),
)


@dataclass
class Case:
    actions: list
    thru: bool
    start_now: bool
    idle_bars: float
    lookahead: int
    channels: dict
    same_generator: bool
    seed: int
    tempo: float


cases = st.builds(
    Case,
    actions=st.lists(st.tuples(delay, action), max_size=40),
    thru=st.booleans(),
    start_now=st.booleans(),
    idle_bars=st.sampled_from([0.0, 0.5, 2.0]),
    lookahead=st.integers(1, 3),
    channels=st.fixed_dictionaries({v: st.integers(1, 3) for v in VOICES}),  # shared channels too
    same_generator=st.booleans(),
    seed=st.integers(0, 2**16),
    tempo=st.floats(40, 300),
)


# ---------------------------------------------------------------------------- the harness
class Harness:
    def __init__(self, case: Case, generator=None, fallback=None) -> None:
        self.clock = clock = CheckedClock()
        self.sink = ListOutput(clock)
        self.sched = Scheduler(clock, [self.sink])
        pitches = (58, 60, 62, 64)
        self.fallback = fallback or ScriptedGenerator("fallback", case.seed, pitches)
        if generator is None:
            generator = self.fallback if case.same_generator else ScriptedGenerator("primary", case.seed + 1, pitches)
        self.primary = generator
        self.slow = 0.0
        clock.simulated_cost = lambda fn: self.slow if getattr(self.primary, "mode", "") == "slow" else 0.0
        self.engine = Engine(clock, self.sched, generator, self.fallback, EngineSettings(
            tempo=case.tempo, thru=case.thru, start_now=case.start_now, idle_bars=case.idle_bars,
            lookahead_steps=case.lookahead, channels=dict(case.channels)))
        self.out_state: dict[tuple[int, int], str] = {}
        self.seen = 0
        self.voice_on: dict[str, dict[tuple[int, int], int]] = {}
        self.held: set[tuple[int, int]] = set()
        self.engine.on_player.append(self._player)
        # shadow of every event the engine hands the sender, before the tracker admits it
        emit, release = self.sched._emit, self.sched.release_all_now

        def shadow_emit(events, when):
            for ev in events:
                if ev.kind in ("on", "off"):
                    d = self.voice_on.setdefault(ev.part, {})
                    k = (ev.channel, ev.data1)
                    if ev.kind == "on":
                        d[k] = d.get(k, 0) + 1
                    elif d.get(k, 0) > 1:
                        d[k] -= 1
                    else:
                        d.pop(k, None)
            emit(events, when)

        def shadow_release():
            self.voice_on.clear()
            release()

        self.sched._emit = shadow_emit
        self.sched.release_all_now = shadow_release
        clock.checks.append(self.check)

    def _player(self, msg, t) -> None:
        if msg.type == "note_on" and msg.velocity > 0:
            self.held.add((msg.channel, msg.note))
        elif msg.type in ("note_on", "note_off"):
            self.held.discard((msg.channel, msg.note))

    def check(self) -> None:
        evs = self.sink.events
        for _, ev in evs[self.seen:]:
            k = (ev.channel, ev.data1)
            if ev.kind == "on":
                assert k not in self.out_state, f"double note-on {k} at the output"
                self.out_state[k] = ev.part
            elif ev.kind == "off":
                assert k in self.out_state, f"note-off {k} for a note not sounding at the output"
                del self.out_state[k]
            elif ev.data1 in (CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF):
                for key in [key for key in self.out_state if key[0] == ev.channel]:
                    del self.out_state[key]
        self.seen = len(evs)
        tracked = set(self.sched.tracker.count)
        assert tracked == set(self.out_state), (
            f"tracker {sorted(tracked)} != output {sorted(self.out_state)} at t={self.clock.now()}")
        assert all(n > 0 for n in self.sched.tracker.count.values())
        for v in VOICES:
            on = self.voice_on.get(v, {})
            assert sum(on.values()) <= 1, f"voice {v} sounds {sorted(on)} at t={self.clock.now()}: a hanging note"
        eng = self.engine
        if eng.running:  # a step is committed only once planned (a stale answer from an earlier run is not)
            assert eng._committed_step < eng._next_step, f"step {eng._committed_step} committed, planning {eng._next_step}"
        if self.engine.settings.thru and self.clock.quiescent():
            echo = set(self.voice_on.get("player", {}))
            assert echo <= self.held, f"player echo {sorted(echo - self.held)} sounds with no key held"

    # actions, each posted the way live input and OSC control reach the engine
    def play(self, actions) -> float:
        t = 1.0
        eng = self.engine
        for d, a in actions:
            t += d
            kind = a[0]
            if kind == "on":
                _, p, vel, ch = a
                msg = mido.Message("note_on", channel=ch, note=p, velocity=vel)
                self.clock.call_at(t, lambda m=msg: eng.post_input(m, self.clock.now()))
            elif kind == "off":
                _, p, ch = a
                msg = mido.Message("note_off", channel=ch, note=p)
                self.clock.call_at(t, lambda m=msg: eng.post_input(m, self.clock.now()))
            elif kind == "tempo":
                self.clock.call_at(t, _safe, eng.set_tempo, a[1])
            elif kind == "mode":
                self.clock.call_at(t, _safe, eng.set_mode, a[1])
            elif kind == "retime":
                self.clock.call_at(t, self._retime, a[1], a[2])
            elif kind == "panic":
                self.clock.call_at(t, eng.panic)
            elif kind == "stop":
                self.clock.call_at(t, eng.stop_transport)
            elif kind == "start":
                self.clock.call_at(t, lambda: None if eng.running else eng.start())
            elif kind == "fault":
                self.clock.call_at(t, self._fault, a[1], a[2])
        return t

    def _retime(self, bpm: float, offset: float) -> None:
        eng = self.engine
        if eng.running:
            now = self.clock.now()
            eng.retime(bpm, eng.transport.tick_at(now) / 120 + offset, now)

    def _fault(self, mode: str, cost: float) -> None:
        if self.primary is not self.fallback and hasattr(self.primary, "mode"):  # faults of the model
            self.primary.mode = mode
        self.slow = cost

    def finish(self, end: float, stop: bool) -> None:
        if stop:
            self.clock.call_at(end + 0.5, self.engine.stop_transport)
        self.clock.call_at(end + 1.0, self.clock.stop)
        self.clock.run()
        self.engine.shutdown()
        self.check()
        assert not self.clock.errors, f"callbacks raised: {self.clock.errors[:3]!r}"
        assert self.sched.tracker.count == {}, f"still sounding: {self.sched.tracker.sounding()}"
        assert self.out_state == {}, f"hanging at the output: {self.out_state}"


def _safe(fn, *args) -> None:  # what the OSC control path does with bad values
    try:
        fn(*args)
    except ValueError:
        pass


# ---------------------------------------------------------------------------- the properties
@PROFILE
@given(cases, st.booleans())
def test_no_hanging_note_whatever_happens(case, stop):
    h = Harness(case)
    end = h.play(case.actions)
    h.finish(end, stop)


@PROFILE
@given(cases)
def test_thru_echo_follows_the_keys(case):
    """With no accompaniment, the echo is exactly the player's keys (minus releases)."""
    case.thru = True
    h = Harness(case, generator=SilentGenerator(), fallback=SilentGenerator())
    end = h.play(case.actions)
    h.finish(end, stop=False)


@settings(PROFILE, max_examples=max(20, EXAMPLES // 20))
@given(cases)
def test_no_hanging_note_with_the_rules_accompanist(case):
    """The same with the real rules accompanist as the fallback (fewer cases: it is slower)."""
    h = Harness(case, fallback=RulesAccompanist(seed=case.seed))
    end = h.play(case.actions)
    h.finish(end, stop=True)
