"""Unplug and replug JACK ports under a running box: the engine survives, closes the notes on the
lost ports, and reconnects by name when they come back (a private JACK server, dummy driver)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

rtmidi = pytest.importorskip("rtmidi")
pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
TAG = f"Bx{os.getpid()}"
KEYS = f"{TAG}Keys [20] (capture): {TAG}Keys MIDI 1"
SYNTH = f"{TAG}Synth [24] (playback): {TAG}Synth MIDI 1"


class Keyboard:
    def __init__(self) -> None:
        self.m = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="a2j")
        self.m.open_virtual_port(KEYS)

    def send(self, *msg: int) -> None:
        self.m.send_message(list(msg))

    def unplug(self) -> None:
        self.m.close_port()
        self.m.delete()


class Synth:
    def __init__(self) -> None:
        self.got: list[tuple[float, tuple[int, ...]]] = []
        self.lock = threading.Lock()
        self.m = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="a2j")
        self.m.open_virtual_port(SYNTH)
        self.m.set_callback(self._cb)

    def _cb(self, ev, data=None) -> None:
        with self.lock:
            self.got.append((time.monotonic(), tuple(ev[0])))

    def messages(self) -> list[tuple[int, ...]]:
        with self.lock:
            return [m for _, m in self.got]

    def wait(self, pred, timeout: float = 8.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(pred(m) for m in self.messages()):
                return True
            time.sleep(0.02)
        return False

    def unplug(self) -> None:
        self.m.cancel_callback()
        self.m.close_port()
        self.m.delete()


class Box:
    def __init__(self, cfg: Path, osc_port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "liveai", "run", "--box", "--config", str(cfg), "--midi-api", "jack",
             "--generator", "rules", "--osc-port", str(osc_port)],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def wait_line(self, text: str, timeout: float = 15.0, count: int = 1) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(text in line for line in list(self.lines)) >= count:
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    @property
    def log(self) -> str:
        return "\n".join(self.lines)


def _status(port: int) -> tuple:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(3)
    try:
        s.sendto(OscMessageBuilder("/liveai/status").build().dgram, ("127.0.0.1", port))
        while True:
            msg = next(iter(OscPacket(s.recvfrom(65536)[0]).messages)).message
            if msg.address == "/liveai/status/reply":
                return tuple(msg.params)
    finally:
        s.close()


from latency_bench.common import free_udp_port as _free_port  # noqa: E402


def is_note_on(ch: int, pitch: int | None = None):
    return lambda m: len(m) == 3 and m[0] == 0x90 | ch and m[2] > 0 and (pitch is None or m[1] == pitch)


def test_unplug_and_replug_keyboard_and_synth(jack_server, tmp_path):
    cfg = tmp_path / "liveai.toml"
    cfg.write_text(f'auto_in = "{TAG}Keys"\nauto_out = "{TAG}Synth"\nhotplug_poll = 0.5\nthru = true\n'
                   'start_now = true\ntempo = 200.0\nosc_out = []\n')
    osc = _free_port()
    kbd, syn = Keyboard(), Synth()
    box = Box(cfg, osc)
    try:
        assert box.wait_line("liveai: ready"), box.log
        assert box.wait_line(f"MIDI input connected: a2j:{KEYS}", 5), box.log
        assert box.wait_line("MIDI output connected: a2j-01:", 5), box.log
        # the player holds a C major chord: echoed (thru, channel 1) and accompanied
        for p in (60, 64, 67):
            kbd.send(0x90, p, 90)
        assert syn.wait(is_note_on(0, 67)), box.log
        assert syn.wait(lambda m: m[0] in (0x91, 0x92, 0x93) and m[2] > 0), "no accompaniment"
        bar0 = _status(osc)[1]

        # --- the synth goes away: the engine keeps its clock, forgets what sounded there
        syn.unplug()
        assert box.wait_line("MIDI output a2j-01:", 5) and box.wait_line("is gone", 5), box.log
        assert box.wait_line("note(s) sounding on the lost output", 3), box.log
        time.sleep(1.3)
        running, bar1 = _status(osc)[:2]
        assert running == 1 and bar1 > bar0, (running, bar0, bar1)

        # --- it comes back: reconnected by name, CC64 0 + CC123 on the channels used, then notes again
        syn = Synth()
        assert syn.wait(lambda m: m[0] & 0xF0 == 0xB0 and m[1] == 123, 5), box.log
        msgs = syn.messages()
        first = msgs.index(next(m for m in msgs if m[0] & 0xF0 == 0xB0))
        assert not any(m[0] & 0xF0 == 0x90 for m in msgs[:first]), "a note went out before the reset"
        assert {m[0] & 0x0F for m in msgs if m[0] & 0xF0 == 0xB0 and m[1] == 123} >= {0, 1, 2, 3}
        assert syn.wait(lambda m: m[0] in (0x91, 0x92, 0x93) and m[2] > 0), "no notes after the replug"
        assert box.wait_line("MIDI output connected", 1, count=2), box.log

        # --- the keyboard goes away with a key held: its note is closed, the clock keeps going
        kbd.send(0x90, 72, 100)
        assert syn.wait(is_note_on(0, 72)), box.log
        kbd.unplug()
        assert syn.wait(lambda m: m[:2] in ((0x80, 72), (0x90, 72)) and (m[0] == 0x80 or m[2] == 0), 5), box.log
        assert box.wait_line(f"MIDI input a2j:{KEYS} is gone", 1), box.log
        assert _status(osc)[0] == 1

        # --- it comes back: reconnected, what is played is heard again
        kbd = Keyboard()
        assert box.wait_line("MIDI input connected", 5, count=2), box.log
        kbd.send(0x90, 74, 100)
        assert syn.wait(is_note_on(0, 74), 5), box.log
        assert box.proc.poll() is None
    finally:
        box.proc.send_signal(signal.SIGTERM)
        try:
            rc = box.proc.wait(10)
        except subprocess.TimeoutExpired:
            box.proc.kill()
            rc = None
        for dev in (kbd, syn):
            try:
                dev.unplug()
            except Exception:
                pass
    assert rc == 0, box.log


def test_hotplug_input_polls_under_jack_and_releases_held_notes(jack_server):
    """A hot-plugged input opens through the same helper as --midi-in: under JACK it polls (no
    Python in JACK's process callback), and losing it releases the notes held on it."""
    from liveai.box.hotplug import HotplugInput
    from liveai.io.midi import PortSpec
    got: list[tuple[str, int]] = []
    kbd = Keyboard()
    hp = HotplugInput(PortSpec("jack", KEYS, False, "in", hotplug=True), lambda m, t: got.append((m.type, m.note)))
    try:
        port = next(p for p in rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="probe").get_ports() if KEYS in p)
        assert hp.connect(port) and hp.connected == port
        assert hp._in is not None and hp._in._poller is not None and hp._in._poller.is_alive()
        time.sleep(0.1)
        kbd.send(0x90, 62, 100)
        kbd.send(0xF4)  # undefined status: dropped and counted
        deadline = time.monotonic() + 5
        while (not got or not hp.dropped) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got == [("note_on", 62)] and hp.held == {(0, 62)} and hp.dropped == 1
        hp.lose()
        assert hp.dropped == 1  # counted across connections
        assert got[-1] == ("note_off", 62) and hp.connected is None and hp.held == set()
        assert not hp.connect(port + " gone")  # a port that is not there: no connection, no error
    finally:
        hp.close()
        kbd.unplug()
