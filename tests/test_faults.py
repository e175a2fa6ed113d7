"""Faults (issue 8, part 2): the model fails, outputs vanish, nobody listens, the disk fills, the
process is killed. The music goes on in time, nothing hangs, nothing crashes.

tests/test_engine.py already covers a model that raises, returns one kind of garbage, or is always
slow; these tests add the rest of the garbage zoo, failures outside plan(), recovery, stale answers
after a restart, failing outputs, OSC with nobody listening, a full disk and the start-up reset.
"""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from pathlib import Path

import mido
import pytest

from liveai.generators.base import HOLD, VoiceAction, note
from liveai.io.osc import OscOutput
from liveai.io.output import CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF, CC_SUSTAIN, ListOutput, OutEvent, OutputDevice
from liveai.io.recorder import Recorder
from liveai.music.tunes import ODE_TO_JOY, tune_events
from tests.helpers import feed, sim_engine, sounding_after

BPM = 100.0
STEP = 60.0 / BPM / 4


OK = object()


class Model:
    """A stand-in for the ONNX model: plays bass notes, or fails in the way it is told to."""

    name = "model"
    voices = ("bass", "tenor", "alto")

    def __init__(self, fault=OK, every: int = 1) -> None:
        self.fault = fault  # OK, an exception, or a garbage plan
        self.every = every
        self.fail_reset = False
        self.fail_observe = False

    def plan(self, ctx):
        if self.fault is not OK and ctx.step % self.every == 0:
            if isinstance(self.fault, BaseException):
                raise self.fault
            return self.fault
        return {"bass": note(40 + ctx.step % 5, 70), "tenor": HOLD, "alto": HOLD}

    def observe(self, ctx, committed):
        if self.fail_observe:
            raise RuntimeError("observe exploded")

    def reset(self):
        if self.fail_reset:
            raise RuntimeError("reset exploded")


def play(gen, cost=None, bars_of_tune=16, **kw):
    clock, eng, sink = sim_engine(generator=gen, tempo=BPM, **kw)
    if cost is not None:
        clock.simulated_cost = cost
    end = feed(clock, eng, tune_events(ODE_TO_JOY.notes()[:bars_of_tune], BPM))
    clock.call_at(end + 1.0, eng.stop_transport)
    clock.run(until=end + 3.0)
    eng.shutdown()
    return clock, eng, sink


def on_grid(sink, anchor=1.0):
    for t, e in sink.events:
        if e.kind == "on" and e.part != "player":
            k = (t - anchor) / STEP
            assert abs(k - round(k)) < 1e-9, f"{e} at {t} is off the grid"


def every_step_played(eng):
    """Each planned step was committed exactly once (by the model or by the rules)."""
    st = eng.stats
    assert st.steps == st.primary_steps + st.fallback_steps
    assert st.steps >= 20


class _Unreadable(dict):
    def items(self):
        raise RuntimeError("items() exploded")


GARBAGE = {
    "none": None, "int": 7, "str": "bass", "list": [("bass", HOLD)], "unknown voice": {"drums": note(60, 80)},
    "not an action": {"bass": "C4"}, "pitch too high": {"bass": note(128, 80)}, "negative pitch": {"bass": note(-1, 80)},
    "velocity 0": {"bass": VoiceAction("note", 60, 0)}, "velocity 300": {"bass": VoiceAction("note", 60, 300)},
    "float pitch": {"bass": VoiceAction("note", 60.5, 80)}, "nan pitch": {"bass": VoiceAction("note", float("nan"), 80)},
    "unknown kind": {"bass": VoiceAction("explode")}, "unreadable": _Unreadable(bass=HOLD),
}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_every_kind_of_garbage_falls_back_to_the_rules_in_time(kind):
    _, eng, sink = play(Model(GARBAGE[kind], every=2))
    every_step_played(eng)
    assert eng.stats.errors >= 5 and eng.stats.fallback_steps >= 5 and eng.stats.primary_steps >= 5
    on_grid(sink)
    assert all(0 <= e.data1 <= 127 and 0 <= e.data2 <= 127 for _, e in sink.events)
    assert sounding_after(sink) == set()


@pytest.mark.parametrize("exc", [MemoryError("oom"), RecursionError("deep"), ZeroDivisionError("x"), KeyError("k")])
def test_any_exception_from_the_model_falls_back(exc):
    _, eng, sink = play(Model(exc, every=3))
    every_step_played(eng)
    assert eng.stats.errors > 0 and eng.stats.primary_steps > 0
    on_grid(sink)
    assert sounding_after(sink) == set()


def test_a_model_that_fails_to_reset_or_observe_does_not_stop_the_music():
    gen = Model()
    gen.fail_reset = gen.fail_observe = True
    _, eng, sink = play(gen)
    every_step_played(eng)
    assert eng.stats.primary_steps > 20  # its plans still play
    on_grid(sink)
    assert sounding_after(sink) == set()


def test_a_model_that_hangs_is_replaced_by_the_rules_for_every_step():
    """One answer never comes in time (a stall of a minute): every step from then on is the rules'."""
    _, eng, sink = play(Model(), cost=lambda fn: 60.0)
    every_step_played(eng)
    assert eng.stats.primary_steps == 0 and eng.stats.late_steps == eng.stats.steps
    on_grid(sink)
    assert sounding_after(sink) == set()


def test_a_model_that_is_slow_for_a_while_recovers():
    clock_box = {}

    def cost(fn):  # slow (150 ms a job) between t=3 s and t=5 s only
        return 0.15 if 3.0 <= clock_box["c"].now() < 5.0 else 0.0

    gen = Model()
    clock, eng, sink = sim_engine(generator=gen, tempo=BPM)
    clock_box["c"] = clock
    clock.simulated_cost = cost
    end = feed(clock, eng, tune_events(ODE_TO_JOY.notes()[:24], BPM))
    clock.call_at(end + 1.0, eng.stop_transport)
    clock.run(until=end + 3.0)
    eng.shutdown()
    every_step_played(eng)
    assert eng.stats.late_steps > 0
    bass = [t for t, e in sink.events if e.kind == "on" and e.part == "bass"]
    assert any(t > 6.0 for t in bass), "the model's own plans resume after the slow spell"
    on_grid(sink)
    assert sounding_after(sink) == set()


def test_a_late_answer_from_before_a_restart_does_not_silence_the_next_song():
    """Regression: the model's answer for step ~230 of the first song arrived after the transport had
    restarted; it was committed into the new song and every step up to 230 was then skipped."""
    gen = Model()
    clock, eng, sink = sim_engine(generator=gen, tempo=120.0, idle_bars=0.0)
    slow = {"on": False}
    clock.simulated_cost = lambda fn: 3.0 if slow["on"] else 0.0
    clock.call_at(1.0, lambda: eng.post_input(mido.Message("note_on", note=60, velocity=90), clock.now()))
    clock.call_at(29.9, slow.__setitem__, "on", True)
    clock.call_at(30.05, eng.stop_transport)
    clock.call_at(30.06, slow.__setitem__, "on", False)
    clock.call_at(30.5, lambda: eng.post_input(mido.Message("note_on", note=62, velocity=90), clock.now()))
    clock.run(until=45.0)
    eng.shutdown()
    late = sorted({round(t, 3) for t, e in sink.events if e.kind == "on" and t > 34.0})
    assert late and late[-1] > 44.0, f"the engine went quiet after the restart: {late[:5]}"
    assert sounding_after(sink) == set()


# ---------------------------------------------------------------------------- outputs
class Vanishing(OutputDevice):
    """An output whose port disappears after n events (rtmidi raises, a socket errors...)."""

    def __init__(self, n: int, exc: BaseException) -> None:
        self.name = f"vanishing-{type(exc).__name__}"
        self.n = n
        self.exc = exc
        self.sent: list[OutEvent] = []

    def send(self, ev: OutEvent) -> None:
        if len(self.sent) >= self.n:
            raise self.exc
        self.sent.append(ev)


@pytest.mark.parametrize("exc", [OSError(19, "No such device"), RuntimeError("rtmidi: port closed"),
                                 BrokenPipeError(), ValueError("bad")])
def test_an_output_that_disappears_does_not_stop_the_music_or_the_others(exc, caplog):
    clock, eng, sink = sim_engine(tempo=BPM)
    dead = Vanishing(10, exc)
    eng.scheduler.outputs.insert(0, dead)  # first in line: the outputs after it must still get everything
    end = feed(clock, eng, tune_events(ODE_TO_JOY.notes()[:16], BPM))
    clock.call_at(end + 1.0, eng.stop_transport)
    with caplog.at_level(logging.ERROR, logger="liveai.io.scheduler"):
        clock.run(until=end + 3.0)
        eng.shutdown()
    assert len(dead.sent) == 10
    assert eng.stats.steps > 20
    assert sum(1 for _, e in sink.events if e.kind == "on") > 20
    assert sounding_after(sink) == set()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and dead.name in errors[0].getMessage()  # logged once, then quiet


def test_osc_output_with_nobody_listening_fails_quietly():
    """UDP to a port nobody listens on: ICMP port-unreachable turns the next sendto into
    ConnectionRefusedError on Linux; OscOutput swallows it, and sends stay fast."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there now
    out = OscOutput([("127.0.0.1", port), ("127.0.0.1", port + 1 if port < 65535 else port - 1)])
    try:
        t0 = time.perf_counter()
        for i in range(2000):
            out.send(OutEvent.note_on(1, 40 + i % 40, 90, "bass"))
            out.send(OutEvent.note_off(1, 40 + i % 40, "bass"))
            out.send_message("/liveai/status/reply", 1, 2, 3, 120.0, "accompany", "C", "C")
        elapsed = time.perf_counter() - t0
    finally:
        out.close()
    assert elapsed < 5.0


def test_osc_output_to_an_unreachable_network_fails_quietly():
    out = OscOutput([("192.0.2.1", 9), ("203.0.113.7", 9001)])  # TEST-NETs: no route on most machines
    try:
        for i in range(100):
            out.send(OutEvent.note_on(1, 60, 90, "bass"))
    finally:
        out.close()


# ---------------------------------------------------------------------------- disk full
@pytest.fixture
def full_dir(tmp_path):
    """A directory on a 64 KiB tmpfs (root), else /dev/full stands in for a full disk."""
    d = tmp_path / "tiny"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], capture_output=True)
    if r.returncode != 0:
        yield None
        return
    try:
        with open(d / "ballast", "wb", buffering=0) as f:  # fill it to the last byte
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def _long_recording() -> Recorder:
    clock, eng, sink = sim_engine(tempo=BPM)
    rec = Recorder(clock, BPM, (4, 4), eng.voices)
    eng.scheduler.outputs.append(rec)
    eng.on_player.append(rec.player)
    feed(clock, eng, tune_events(ODE_TO_JOY.notes() * 4, BPM))
    clock.run(until=60.0)
    eng.shutdown()
    return rec


def test_recording_to_a_full_disk_raises_oserror_and_leaves_no_partial_file(full_dir):
    rec = _long_recording()
    if full_dir is None:
        pytest.skip("cannot mount a tmpfs here")
    with pytest.raises(OSError):
        rec.save(full_dir / "take.mid")
    assert not (full_dir / "take.mid").exists()
    assert [p.name for p in full_dir.iterdir()] == ["ballast"]  # the temporary file was removed


def test_live_session_on_a_full_disk_logs_the_error_and_stops_cleanly(full_dir, caplog, free_udp_port,
                                                                      tmp_path, monkeypatch):
    """The real-time app: the part plays to the end, the save fails with a logged error, and
    shutdown still closes every note and the outputs (no traceback out of run_realtime); the take
    goes to the fallback folder (issue 12 item 4)."""
    if full_dir is None:
        pytest.skip("cannot mount a tmpfs here")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from liveai.app.run import run_realtime
    from liveai.control.config import make_config
    cfg = make_config(None, {"generator": "rules", "osc_port": free_udp_port(), "osc_out": [], "tempo": 200.0})
    events = tune_events(ODE_TO_JOY.notes()[:6], 200.0)
    with caplog.at_level(logging.ERROR):
        session = run_realtime(cfg, None, None, events=events, out=str(full_dir / "take.mid"))
    assert session.engine.stats.steps > 4
    assert sounding_after(session.sink) == set()
    assert any("record" in r.getMessage().lower() for r in caplog.records if r.levelno >= logging.ERROR), \
        [r.getMessage() for r in caplog.records]
    assert not (full_dir / "take.mid").exists()
    assert (tmp_path / "state" / "liveai" / "takes" / "take.mid").exists()


# ---------------------------------------------------------------------------- after SIGKILL
def test_start_up_reset_silences_every_channel():
    """What a killed predecessor left sounding is unknown: at start every opened MIDI output gets
    sustain off, all notes off and all sound off on all 16 channels, before anything else."""
    from liveai.app.run import reset_output
    out = ListOutput()
    reset_output(out)
    got = [(e.kind, e.channel, e.data1, e.data2) for _, e in out.events]
    assert got == [("cc", ch, cc, 0) for ch in range(16) for cc in (CC_SUSTAIN, CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF)]


def test_start_up_reset_survives_a_failing_output():
    from liveai.app.run import reset_output
    reset_output(Vanishing(0, OSError("gone")))  # logged, no exception


@pytest.mark.integration
@pytest.mark.parametrize("sender", ["thread", "process"])
def test_after_sigkill_the_next_start_silences_what_was_left_sounding(jack_server, free_udp_port, sender):
    """Over a real JACK server: kill -9 the engine while its notes sound on synth:in, start it again,
    and the first thing synth:in gets from the new process is CC64 0, CC123 and CC120 on all 16
    channels, which leaves nothing sounding there. With the sender thread the killed engine's notes
    hang until then; the sender process (the default) outlives the engine and ends them at once."""
    rtmidi = pytest.importorskip("rtmidi")
    from tests.integration.support import EngineProcess
    jack = rtmidi.API_UNIX_JACK
    player = rtmidi.MidiOut(jack, name="player")
    player.open_virtual_port("out")
    synth = rtmidi.MidiIn(jack, name="synth", queue_size_limit=16384)
    synth.ignore_types(sysex=False, timing=False, active_sense=False)
    synth.open_virtual_port("in")
    got: list[list[int]] = []

    def drain(until: float) -> None:
        while time.monotonic() < until:
            m = synth.get_message()
            if m is None:
                time.sleep(0.002)
            else:
                got.append(m[0])

    def sounding(msgs) -> set:
        on = set()
        for b in msgs:
            if len(b) == 3 and b[0] & 0xF0 == 0x90 and b[2] > 0:
                on.add((b[0] & 0x0F, b[1]))
            elif len(b) == 3 and (b[0] & 0xF0 == 0x80 or b[0] & 0xF0 == 0x90):
                on.discard((b[0] & 0x0F, b[1]))
            elif len(b) == 3 and b[0] & 0xF0 == 0xB0 and b[1] in (CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF):
                on = {k for k in on if k[0] != b[0] & 0x0F}
        return on

    args = ("run", "--midi-api", "jack", "--midi-in", "player", "--midi-out", "synth", "--generator", "rules",
            "--tempo", "120", "--idle-bars", "0", "--osc-port", str(free_udp_port()), "--osc-out", "127.0.0.1:9",
            "--oscquery-port", "-1", "--sender", sender)
    first = EngineProcess(*args)
    second = None
    try:
        first.wait_for_line("liveai: ready", timeout=30)
        drain(time.monotonic() + 0.5)
        start = len(got)
        for p in (60, 64, 67):  # the player holds a chord: the band plays along
            player.send_message([0x90, p, 100])
        left = set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            drain(time.monotonic() + 0.1)
            left = {k for k in sounding(got[start:]) if k[0] != 0}
            if len(left) >= 2:
                break
        assert left, "the engine played nothing"
        first.signal(9)  # SIGKILL: no note-offs, no CC123
        first.wait(10)
        drain(time.monotonic() + 0.3)
        if sender == "thread":
            assert sounding(got[start:]) >= left  # they hang on the synth now
        else:
            assert sounding(got[start:]) == set(), got[-8:]  # the sender process ended them
        before = len(got)
        second = EngineProcess(*args)
        second.wait_for_line("liveai: ready", timeout=30)
        drain(time.monotonic() + 0.5)
        new = got[before:]
        reset = [[0xB0 | ch, cc, 0] for ch in range(16) for cc in (CC_SUSTAIN, CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF)]
        assert new[:48] == reset, new[:10]
        assert sounding(got[start:]) == set()
    finally:
        for e in (first, second):
            if e is not None:
                e.signal()
                try:
                    e.wait(10)
                except Exception:
                    pass
                e.kill()
        for p in (player, synth):
            p.close_port()
            p.delete()


@pytest.mark.integration
def test_midi_output_port_that_disappears_does_not_crash_the_engine(jack_server, free_udp_port):
    """Over JACK: the synth the engine plays into goes away mid-song (its client closes). The
    engine keeps playing (into nothing), answers /liveai/ping, and stops cleanly on SIGTERM.
    (Reconnecting when it comes back is the hot-plug watcher's job: tests/box/test_hotplug_jack.py.)"""
    rtmidi = pytest.importorskip("rtmidi")
    from tests.integration.support import EngineProcess, OscPeer
    jack = rtmidi.API_UNIX_JACK
    player = rtmidi.MidiOut(jack, name="player")
    player.open_virtual_port("out")
    synth = rtmidi.MidiIn(jack, name="synth", queue_size_limit=16384)
    synth.open_virtual_port("in")
    peer = OscPeer()
    port = free_udp_port()
    eng = EngineProcess("run", "--midi-api", "jack", "--midi-in", "player", "--midi-out", "synth", "--generator",
                        "rules", "--tempo", "160", "--idle-bars", "0", "--osc-port", str(port),
                        "--osc-out", f"127.0.0.1:{peer.port}", "--oscquery-port", "-1")
    try:
        eng.wait_for_line("liveai: ready", timeout=30)
        for p in (60, 64, 67):
            player.send_message([0x90, p, 100])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any((m := synth.get_message()) and m[0][0] & 0xF0 == 0x90
                                                      for _ in range(50)):
            time.sleep(0.05)
        synth.close_port()  # unplugged
        synth.delete()
        synth = None
        n = len(peer.messages)
        time.sleep(2.0)
        assert eng.proc.poll() is None, eng.output[-2000:]
        assert peer.request(port, "/liveai/ping", "/liveai/pong", timeout=5)
        assert any(m.address.endswith("/note") for m in peer.messages[n:]), "the music stopped"
        eng.signal()
        assert eng.wait(10) == 0, eng.output[-2000:]
        assert "Traceback" not in eng.output, eng.output[-3000:]
    finally:
        eng.kill()
        peer.close()
        player.close_port()
        player.delete()
        if synth is not None:
            synth.close_port()
            synth.delete()
