"""liveai.io.midi over a real JACK server: rtmidi ports at both ends ("player" plays into the
engine's input, "synth" listens to the engine's output)."""
from __future__ import annotations

import threading
import time

import pytest

rtmidi = pytest.importorskip("rtmidi")

from liveai.io.midi import MidiInput, MidiOutput, PortNotFound, PortSpec, list_ports  # noqa: E402
from liveai.io.output import OutEvent  # noqa: E402

from .support import jack_connect, jack_connections  # noqa: E402

pytestmark = pytest.mark.integration

JACK = rtmidi.API_UNIX_JACK


def collect(midi_in, n: int, timeout: float = 5.0) -> list[tuple[list[int], float]]:
    """Poll an rtmidi input until n messages have come (or the timeout)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        m = midi_in.get_message()
        if m is None:
            time.sleep(0.002)
        else:
            got.append(m)
    return got


class Recorder:
    """A MidiInput handler that records (message, arrival time) and can be waited on."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.got: list = []
        self.cond = threading.Condition()
        self.fail_on = fail_on

    def __call__(self, msg, t) -> None:
        with self.cond:
            self.got.append((msg, t))
            self.cond.notify_all()
        if self.fail_on is not None and getattr(msg, "note", None) == self.fail_on:
            raise RuntimeError("handler bug")

    def wait(self, n: int, timeout: float = 5.0) -> list:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.got) < n and time.monotonic() < deadline:
                self.cond.wait(0.1)
            return list(self.got)


@pytest.fixture
def player(jack_server):
    out = rtmidi.MidiOut(JACK, name="player")
    out.open_virtual_port("out")
    yield out
    out.close_port()
    out.delete()


@pytest.fixture
def synth(jack_server):
    inp = rtmidi.MidiIn(JACK, name="synth", queue_size_limit=4096)
    inp.ignore_types(sysex=False, timing=False, active_sense=False)
    inp.open_virtual_port("in")
    yield inp
    inp.close_port()
    inp.delete()


def _port_of(client: str, port: str, names: list[str]) -> str:
    """The full JACK name of our test client's port (JACK renames a reused client name to name-01)."""
    match = [n for n in names if n.startswith(client) and n.endswith(":" + port)]
    assert match, names
    return match[0]


def test_list_ports_shows_the_test_clients(player, synth):
    ins, outs = list_ports("jack")
    assert any(n.startswith("player") and n.endswith(":out") for n in ins), ins
    assert any(n.startswith("synth") and n.endswith(":in") for n in outs), outs


def test_output_connects_by_substring_and_delivers(player, synth):
    out = MidiOutput(PortSpec("jack", "SYNTH", False, "out"))  # case-insensitive substring
    try:
        assert out.name.startswith("synth")
        conns = jack_connections()
        target = out.name
        assert any(p.startswith("liveai") for p in conns[target]), conns
        out.send(OutEvent.note_on(1, 60, 100, "bass"))
        out.send(OutEvent.note_off(1, 60, "bass"))
        out.send_raw([0xB1, 123, 0])
        got = collect(synth, 3)
        assert [m for m, _ in got] == [[0x91, 60, 100], [0x81, 60, 0], [0xB1, 123, 0]]
    finally:
        out.close()


def test_input_connects_by_substring_and_timestamps_on_arrival(player, synth):
    rec = Recorder()
    inp = MidiInput(PortSpec("jack", "play", False, "in"), rec)
    try:
        assert inp.name.startswith("player")
        conns = jack_connections()
        assert any(p.startswith("liveai") for p in conns[inp.name]), conns
        t_before = time.perf_counter()
        player.send_message([0x90, 60, 100])
        time.sleep(0.05)
        player.send_message([0x80, 60, 0])
        player.send_message([0xF8])  # MIDI clock is kept (the sync issue uses it)
        got = rec.wait(3)
        t_after = time.perf_counter()
        assert [m.type for m, _ in got] == ["note_on", "note_off", "clock"]
        assert (got[0][0].note, got[0][0].velocity) == (60, 100)
        times = [t for _, t in got]
        assert t_before <= times[0] <= times[1] <= times[2] <= t_after
        # The arrival times are the real ones: the note-off was sent 50 ms after the note-on.
        assert 0.04 < times[1] - times[0] < 0.3
    finally:
        inp.close()


def test_bad_input_is_dropped_not_raised(player, synth):
    rec = Recorder(fail_on=61)
    inp = MidiInput(PortSpec("jack", "player", False, "in"), rec)
    try:
        player.send_message([0x90, 200, 64])  # data byte out of range
        player.send_message([0x90, 60])  # too short
        player.send_message([0x90, 61, 64])  # the handler raises on this one: logged, not raised
        player.send_message([0x90, 62, 64])  # and the next still arrives
        got = rec.wait(2)
        assert [(m.type, m.note) for m, _ in got] == [("note_on", 61), ("note_on", 62)]
        assert inp.dropped >= 1  # JACK may already reject the short one
    finally:
        inp.close()


def test_unknown_port_lists_the_ports(player, synth):
    with pytest.raises(PortNotFound) as e:
        MidiInput(PortSpec("jack", "no-such-keyboard", False, "in"), lambda m, t: None)
    assert "no-such-keyboard" in str(e.value)
    assert "player" in str(e.value) and ":out" in str(e.value)
    with pytest.raises(PortNotFound) as e:
        MidiOutput(PortSpec("jack", "no-such-synth", False, "out"))
    assert "no-such-synth" in str(e.value) and "synth" in str(e.value)


def test_virtual_ports_are_named_liveai(player, synth):
    out = MidiOutput(PortSpec("jack", None, True, "out"))
    rec = Recorder()
    inp = MidiInput(PortSpec("jack", None, True, "in"), rec)
    try:
        conns = jack_connections()
        ours_out = [p for p in conns if p.startswith("liveai") and p.endswith(":out")]
        ours_in = [p for p in conns if p.startswith("liveai") and p.endswith(":in")]
        assert ours_out and ours_in, list(conns)
        synth_in = _port_of("synth", "in", list(conns))
        player_out = _port_of("player", "out", list(conns))
        jack_connect(ours_out[-1], synth_in)
        jack_connect(player_out, ours_in[-1])
        out.send(OutEvent.note_on(2, 64, 90, "tenor"))
        player.send_message([0x90, 65, 91])
        assert [m for m, _ in collect(synth, 1)] == [[0x92, 64, 90]]
        got = rec.wait(1)
        assert [(m.note, m.velocity) for m, _ in got] == [(65, 91)]
    finally:
        inp.close()
        out.close()
