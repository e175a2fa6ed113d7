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

import logging
import math
import os
import random
import time
from dataclasses import dataclass

import mido
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveai.timing.clock import SimClock
from liveai.engine.core import Engine, EngineSettings
from liveai.generators.base import HOLD, REST, VoiceAction, note
from liveai.generators.rules import RulesAccompanist
from liveai.io.output import CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF, ListOutput
from liveai.io.scheduler import Scheduler

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
        return not any(tm.prio == 0 and not tm.cancelled for _w, _p, _s, tm in self._heap)


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
    st.tuples(st.just("mode"), st.sampled_from(["accompany", "call", "harmonize", "call", "harmonize", "polka", ""])),
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
    modes: bool = False
    swing: float = 0.0


cases = st.builds(
    Case,
    actions=st.lists(st.tuples(delay, action), min_size=1, max_size=40),
    thru=st.booleans(),
    start_now=st.booleans(),
    idle_bars=st.sampled_from([0.0, 0.5, 2.0]),
    lookahead=st.integers(1, 6),  # up to six committed steps waiting (a reaction rewrites them all)
    channels=st.fixed_dictionaries({v: st.integers(1, 3) for v in VOICES}),  # shared channels too
    same_generator=st.booleans(),
    seed=st.integers(0, 2**16),
    tempo=st.floats(40, 300),
    modes=st.booleans(),
    swing=st.sampled_from([0.0, 0.0, 0.6, 1.0]),  # a swung step sounds late: more steps wait behind it
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
            lookahead_steps=case.lookahead, channels=dict(case.channels), swing=case.swing))
        if case.modes:  # call and harmonize beside accompany, as the app registers them
            from liveai.app.run import add_modes
            from liveai.control.config import Config
            add_modes(self.engine, Config(seed=case.seed))
        self.out_state: dict[tuple[int, int], str] = {}
        self.seen = 0
        self.voice_on: dict[str, dict[tuple[int, int], int]] = {}
        self.held: set[tuple[int, int]] = set()
        self.poly = False  # harmonize mode was on since the last release: a chord per held key
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
            self.poly = False
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
        eng = self.engine
        self.poly = self.poly or eng.settings.mode == "harmonize"
        if self.poly:  # a chord per held key: closed with its key (or by the release a mode change queues)
            if self.clock.quiescent() and not self.held:
                left = {v: on for v, on in self.voice_on.items() if v != "player" and on}
                assert not left, f"harmony {left} sounds with no key held"
        else:
            for v in (*VOICES, "melody"):
                on = self.voice_on.get(v, {})
                assert sum(on.values()) <= 1, f"voice {v} sounds {sorted(on)} at t={self.clock.now()}: a hanging note"
        if eng.running:  # a step is committed only once planned (a stale answer from an earlier run is not)
            assert eng._committed_step < eng._next_step, f"step {eng._committed_step} committed, planning {eng._next_step}"
        if self.engine.settings.thru and self.clock.quiescent():
            echo = set(self.voice_on.get("player", {}))
            assert echo <= self.held, f"player echo {sorted(echo - self.held)} sounds with no key held"

    # actions, each posted the way live input and OSC control reach the engine
    def play(self, actions) -> float:
        t = 1.0
        eng = self.engine
        first = mido.Message("note_on", channel=0, note=60, velocity=100)  # the player starts the band
        self.clock.call_at(t, lambda: eng.post_input(first, self.clock.now()))
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


# ---------------------------------------------------------------------------- bad input (part 3)
# Junk OSC datagrams and junk MIDI through the real server, control and input paths, into an engine
# that is playing on the simulated clock. Nothing may raise, nothing may change the grid, every
# note stays on it, and at the end nothing sounds. junk_datagram() also feeds the live JACK fuzz test.
import struct  # noqa: E402

from pythonosc.osc_packet import OscPacket  # noqa: E402

from liveai.control.addresses import ADDRESSES, TABLE, parse_args  # noqa: E402
from liveai.io.osc import _not_pythonosc, build  # noqa: E402

logging.getLogger().addFilter(_not_pythonosc)  # python-osc's warning per junk packet (the server does the same)

FUZZ_DATAGRAMS = int(os.environ.get("LIVEAI_FUZZ_DATAGRAMS", "20000"))
IN_PATHS = sorted(a.path for a in TABLE if a.direction != "out")
HARMLESS = {a.path for a in TABLE if a.verb in ("get", "listen", "unlisten")} | {"/liveai/ping", "/liveai/status"}
WILDCARDS = ["/liveai/*", "/liveai/{tempo,panic}", "/*", "/liveai/[a-z]*/note", "//", "/liveai/tempo*",
             "/liveai/?ing", "/liveai/!panic", "*", "/liveai/bass/*", "/liveai//tempo", ""]
ODD_NUMBERS = [(b"f", struct.pack(">f", math.nan)), (b"f", struct.pack(">f", math.inf)), (b"f", struct.pack(">f", -math.inf)),
               (b"f", struct.pack(">f", 3.4e38)), (b"f", struct.pack(">f", -0.0)), (b"d", struct.pack(">d", 1e300)),
               (b"d", struct.pack(">d", math.nan)), (b"i", struct.pack(">i", 2**31 - 1)), (b"i", struct.pack(">i", -2**31)),
               (b"h", struct.pack(">q", 2**63 - 1)), (b"t", b"\xff" * 8), (b"T", b""), (b"F", b""), (b"N", b""), (b"I", b"")]


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (4 - len(b) % 4)


def osc_raw(address: bytes, tags: bytes, payload: bytes) -> bytes:
    return _pad(address) + _pad(b"," + tags) + payload


def osc_bundle(elements: list[bytes], tag: bytes) -> bytes:
    out = b"#bundle\0" + tag
    for e in elements:
        out += struct.pack(">i", len(e)) + e
    return out


def _junk(rng: random.Random, depth: int = 0) -> bytes:
    kind = rng.randrange(10)
    path = rng.choice(IN_PATHS).encode()
    if kind == 0:  # random bytes
        return rng.randbytes(rng.randrange(0, 300))
    if kind == 1:  # a plausible message, truncated
        d = build(rng.choice(IN_PATHS), *rng.choice([(), (1,), (120.0,), ("accompany",), (3, 4), (60, 100)]))
        return d[:rng.randrange(0, len(d))]
    if kind == 2:  # type tags that do not match the payload (or the table)
        tags = bytes(rng.choice(b"ifsbhdtTFNIcmr[]S") for _ in range(rng.randrange(0, 7)))
        return osc_raw(path, tags, rng.randbytes(rng.randrange(0, 40)))
    if kind == 3:  # NaN, infinities, huge values
        args = [rng.choice(ODD_NUMBERS) for _ in range(rng.randrange(1, 4))]
        return osc_raw(path, b"".join(t for t, _ in args), b"".join(p for _, p in args))
    if kind == 4:  # wildcard and malformed addresses
        return build(rng.choice(WILDCARDS) or "/", *rng.choice([(), (120.0,), ("x",)])) if rng.random() < 0.9 else \
            osc_raw(rng.choice(WILDCARDS).encode(), b"f", struct.pack(">f", 120.0))
    if kind == 5 and depth < 3:  # bundles, far-future / immediate / past timetags, junk inside
        tag = rng.choice([b"\xff" * 8, b"\x00" * 7 + b"\x01", b"\x00" * 8, struct.pack(">II", 0xE0000000, 0)])
        return osc_bundle([_junk(rng, depth + 1) for _ in range(rng.randrange(0, 4))], tag)
    if kind == 6:  # lying bundle sizes, deep nesting
        if rng.random() < 0.5:
            return b"#bundle\0" + b"\0" * 7 + b"\x01" + struct.pack(">i", rng.choice([-1, 0, 3, 10**6, 2**31 - 1])) + b"/x\0\0,\0\0\0"
        inner = build("/liveai/ping")
        for _ in range(rng.choice([17, 100, 600])):
            inner = osc_bundle([inner], b"\0" * 7 + b"\x01")
        return inner[:65000]
    if kind == 7:  # address bytes that are not UTF-8 / not OSC
        return osc_raw(b"/liveai/" + bytes(rng.randrange(128, 256) for _ in range(5)), b"", b"")
    if kind == 8:  # huge strings and blobs
        s = rng.choice([b"x", b"\xff", b"/../../etc/passwd"]) * rng.randrange(1000, 16000)
        return osc_raw(path, rng.choice([b"s", b"b"]), _pad(s) if rng.random() < 0.5 else struct.pack(">i", len(s)) + _pad(s))
    return rng.choice([b"", b"#bundle", b"#bundle\0", b"/", b",", b"\0" * 64, b"/liveai/ping\0\0\0\0,N"])


def changes_state(data: bytes) -> bool:
    """Whether data holds a well-formed message that legitimately changes something (a tempo, a
    player note...): the fuzz leaves those out, so that any change it causes is a bug."""
    if data.count(b"#bundle\0") > 16:
        return False  # dropped unparsed
    try:
        msgs = [m.message for m in OscPacket(data).messages]
    except Exception:
        return False
    for m in msgs:
        if m.address in ADDRESSES and m.address not in HARMLESS:
            try:
                parse_args(m.address, tuple(m.params))
                return True
            except Exception:
                pass
    return False


def junk_datagram(rng: random.Random) -> bytes:
    while True:
        d = _junk(rng)
        if len(d) <= 65000 and not changes_state(d):
            return d


def junk_midi(rng: random.Random) -> list[int]:
    """Junk a MIDI input can deliver: stray data bytes, out-of-range values, SysEx, clock floods,
    running status, truncated and over-long messages, real-time bytes."""
    k = rng.randrange(8)
    if k == 0:
        return [rng.randrange(128) for _ in range(rng.randrange(1, 4))]  # data bytes with no status
    if k == 1:
        return [rng.choice([0x80, 0x90, 0xA0, 0xB0, 0xE0]) | rng.randrange(16), rng.randrange(128, 256), rng.randrange(256)]
    if k == 2:
        return [0xF0] + [rng.randrange(128) for _ in range(rng.randrange(0, 200))] + [0xF7]
    if k == 3:
        return [0xF8] * rng.randrange(1, 4)  # clock
    if k == 4:
        return [rng.choice([0xF4, 0xF5, 0xF9, 0xFD, 0xF7, 0xF1, 0xF2, 0xF3, 0xF6, 0xFE, 0xFF])] + \
            [rng.randrange(256) for _ in range(rng.randrange(0, 3))]
    if k == 5:
        return [rng.choice([0x90, 0x80]) | rng.randrange(16)]  # truncated
    if k == 6:
        return [rng.randrange(256) for _ in range(rng.randrange(0, 8))]
    return [0xC0 | rng.randrange(16), rng.randrange(128), rng.randrange(128), rng.randrange(128)]  # too long


class _Input:
    """liveai.io.midi.MidiInput's callback path without an rtmidi port."""

    def __new__(cls, handler, clock):
        from liveai.io.midi import MidiInput
        inp = MidiInput.__new__(MidiInput)
        inp.handler, inp.clock, inp.dropped = handler, clock, 0
        return inp


def fuzz_session(seed: int, n_osc: int, n_midi: int, seconds: float = 20.0):
    from liveai.app.run import attach_osc, build_session
    from liveai.control.config import make_config
    from liveai.io.osc import OscServer
    cfg = make_config(None, {"generator": "rules", "osc_out": [], "start_now": True, "tempo": 120.0,
                             "oscquery_port": -1, "idle_bars": 0.0})
    clock = CheckedClock()
    session = build_session(cfg, clock, clock, [])
    server = OscServer(0)
    replies = []
    server.reply = lambda addr, path, *args: replies.append(path)  # type: ignore[method-assign]
    ctl = attach_osc(session, server, False)
    eng = session.engine
    clock.call_at(0.0, eng.start)
    for i in range(int(seconds * 2)):  # a player too, so that the band plays
        p = [60, 64, 67, 72, 67, 64, 60, 55][i % 8]
        clock.call_at(0.25 + i * 0.5, eng.post_input, mido.Message("note_on", note=p, velocity=90), 0.25 + i * 0.5)
        clock.call_at(0.7 + i * 0.5, eng.post_input, mido.Message("note_off", note=p), 0.7 + i * 0.5)
    rng = random.Random(seed)
    sender = ("127.0.0.1", 45678)
    for i in range(n_osc):
        data = junk_datagram(rng)
        clock.call_at(0.5 + seconds * i / max(1, n_osc), server.handle_datagram, data, sender)
    inp = _Input(eng.post_input, clock.now)
    for i in range(n_midi):
        data = junk_midi(rng)
        if any(b & 0xF0 in (0x80, 0x90) for b in data[:1]):  # legitimate player notes are not junk
            data = [0xF8]
        clock.call_at(0.5 + seconds * i / max(1, n_midi), inp._callback, (data, 0.0))
    clock.run(until=seconds + 1.0)
    grid = [eng.transport.time_of_step(k) for k in (0, 100, 1000)]
    return session, server, clock, replies, grid, ctl, inp


def test_junk_osc_and_midi_change_nothing_and_crash_nothing():
    session, server, clock, replies, grid, ctl, inp = fuzz_session(1, FUZZ_DATAGRAMS, 10_000)
    eng = session.engine
    assert clock.errors == []
    assert server.received == FUZZ_DATAGRAMS
    assert eng.running and eng.transport.bpm == 120.0 and str(eng.transport.meter) == "4/4"
    assert grid == [0.0, 12.5, 125.0]  # the grid anchored at the start, untouched
    step = 60 / 120 / 4
    ons = [t for t, e in session.sink.events if e.kind == "on"]
    assert len(ons) > 50
    assert all(abs(t / step - round(t / step)) < 1e-9 for t in ons), "a note left the grid"
    # every junk datagram was dropped (counted) or answered with /liveai/error or a harmless reply
    assert server.dropped + len(replies) >= FUZZ_DATAGRAMS * 0.9, (server.dropped, len(replies))
    ctl.close()
    eng.shutdown()
    assert eng.scheduler.tracker.count == {}


def test_far_future_bundles_are_not_waited_for():
    """python-osc's Dispatcher sleeps until a bundle's timetag; ours must answer at once."""
    from liveai.io.osc import OscServer
    server = OscServer(0)
    got = []
    server.on("/liveai/ping", lambda a, addr: got.append(time.perf_counter()))
    t0 = time.perf_counter()
    try:
        server.handle_datagram(osc_bundle([build("/liveai/ping")], b"\xff" * 8), ("127.0.0.1", 1))
    finally:
        server.stop()
    assert got and got[0] - t0 < 0.5
