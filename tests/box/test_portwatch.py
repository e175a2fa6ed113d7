"""Hot-plug endpoints follow the JACK server's watch (issue 29): `liveai run --midi-api jack
--midi-in auto --midi-out auto` over a private jackd that is stopped and started again mid-take
survives (it segfaulted), says so within 1 s, takes its devices back within 5 s of their return,
leaves no note hanging and keeps the take going."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido
import pytest

from tests.helpers import hanging_notes
from latency_bench.common import JackServer

pytestmark = pytest.mark.integration
TAG = f"Pw{os.getpid()}"
KEYS = f"{TAG}Keys [20] (capture): {TAG}Keys MIDI 1"
SYNTH = f"{TAG}Synth [24] (playback): {TAG}Synth MIDI 1"

# A keyboard and a synth in one process of their own (a libjack client whose server dies may crash
# its process): notes to play come on stdin ("on 60 90"), what the synth hears goes to stdout.
_DEVICE = r"""
import json, sys, threading, time
import rtmidi
kbd = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="a2j")
kbd.open_virtual_port(sys.argv[1])
syn = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="a2j")
syn.open_virtual_port(sys.argv[2])
syn.set_callback(lambda ev, data=None: print(json.dumps([time.monotonic(), ev[0]]), flush=True))
print("ready", flush=True)
for line in sys.stdin:
    cmd, note, vel = line.split()
    kbd.send_message([0x90, int(note), int(vel)])
"""


class Device:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _DEVICE, KEYS, SYNTH], text=True, bufsize=1,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        self.t_ready = time.monotonic()
        self.got: list[tuple[float, list[int]]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.got.append(tuple(json.loads(line)))
            except ValueError:
                pass

    def play(self, note: int, vel: int) -> None:
        self.proc.stdin.write(f"on {note} {vel}\n")
        self.proc.stdin.flush()

    def stop(self, gracefully: bool = False) -> None:
        """gracefully (its server is up): its clients closed as it exits, since a jackd stopped
        while a killed client's socket is unread dies of SIGPIPE, its registry slot never freed
        (eight such and no jackd starts on the machine)."""
        if gracefully and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._thread.join(2)


BACK_AT_ALL_S = 20.0  # the devices return at all (5 s is the bound, judged where the machine did not stall)
STALL_MS = 50.0  # the stall probe woke this late while they came back: the machine, not liveai, was stuck


def _note_ons(msgs, after: float = 0.0):
    return [(t, m) for t, m in msgs if t >= after and m[0] & 0xF0 == 0x90 and m[2] > 0]




def _connected_lines(eng, what: str) -> int:
    return sum(f"MIDI {what} connected" in line for _, line in list(eng.lines))


def _wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("box", [False, True], ids=["run", "box"])
def test_hotplug_endpoints_survive_a_jack_restart_mid_take(tmp_path, free_udp_port, box):
    for tool in ("jackd", "jack_lsp"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install jackd2)")
    from tests.integration.support import EngineProcess, OscPeer, StallProbe
    cfg = tmp_path / "liveai.toml"
    cfg.write_text(f'auto_in = "{TAG}Keys"\nauto_out = "{TAG}Synth"\nhotplug_poll = 0.5\nthru = true\n'
                   'start_now = true\ntempo = 160.0\nosc_out = []\n')
    server = JackServer(period=256, prefix="lvpw", log_path=tmp_path / "jackd.log").__enter__()
    env = {"JACK_DEFAULT_SERVER": server.name, "JACK_NO_START_SERVER": "1"}
    takes = tmp_path / "takes"
    port = free_udp_port()
    dev = Device()
    eng = EngineProcess("run", "--config", str(cfg), "--midi-api", "jack", "--midi-in", "auto", "--midi-out",
                        "auto", "--band", "pop", "--generator", "rules", "--record", str(takes), "--no-realtime",
                        "--osc-port", str(port), "--oscquery-port", "-1", "--idle-bars", "0",
                        *(["--box"] if box else []), env=env)
    peer = OscPeer()
    probe = StallProbe()
    again = None
    dev2 = None
    try:
        eng.wait_for_line("ready in", 40)
        assert _wait(lambda: _connected_lines(eng, "input") >= 1 and _connected_lines(eng, "output") >= 1, 5), \
            eng.output[-2000:]
        peer.send(port, "/liveai/listen")
        t_first = time.monotonic()
        for n in (60, 64, 67):
            dev.play(n, 90)
        assert _wait(lambda: len(_note_ons(dev.got)) > 6, 5), "the band did not sound before the stop"
        t_stop = time.monotonic()
        server._stop()  # under liveai's connected endpoints (where it segfaulted)
        t_said, _ = eng.wait_for_line("JACK server", 3)
        said = eng.t_start + t_said - t_stop
        dev.stop()  # the devices went with their server (their process may crash: it is not ours)
        peer.wait_for(lambda m: m.address == "/liveai/error" and "JACK server" in str(m.args), 2.0)
        time.sleep(1.5)
        assert eng.proc.poll() is None, eng.output[-3000:]
        again = JackServer(period=256, prefix="lvpw", log_path=tmp_path / "jackd.log").__enter__()
        t_up = time.monotonic()
        eng.wait_for_line("is back", 5)
        dev2 = Device()
        # back they must come; within 5 s is judged below, where the machine did not stall meanwhile
        assert _wait(lambda: _connected_lines(eng, "input") >= 2 and _connected_lines(eng, "output") >= 2,
                     BACK_AT_ALL_S), eng.output[-3000:]
        back = time.monotonic() - dev2.t_ready
        for n in (62, 65, 69):
            dev2.play(n, 90)
        assert _wait(lambda: len(_note_ons(dev2.got)) > 6, 5), "no notes after the rejoin"
        for n in (62, 65, 69):
            dev2.play(n, 0)
        time.sleep(1.0)
        t_end = time.monotonic()
        t_back = time.monotonic()
    finally:
        probe.stop()
        peer.close()
        eng.stop()
        time.sleep(0.3)
        dev.stop()
        if dev2 is not None:
            dev2.stop(gracefully=True)
            time.sleep(0.3)
        if again is not None:
            again.__exit__(None, None, None)
        server.__exit__(None, None, None)
    print(eng.output[-2000:])
    stall = probe.worst_ms(t_stop, t_back)
    print(f"JACK stop said after {said * 1000:.0f} ms; devices back {back * 1000:.0f} ms after they "
          f"returned ({(t_back - t_up) * 1000:.0f} ms after the server); the stall probe's worst wake-up "
          f"meanwhile {stall:.0f} ms")
    assert said < 1.0, said
    if back >= 5.0 and stall > STALL_MS:
        pytest.xfail(f"this machine stalled (a 1 ms timer woke {stall:.0f} ms late) while the devices came back, "
                     f"{back:.1f} s after they returned: the 5 s bound is not judged on this run")
    assert back < 5.0, back
    assert again is None or again.proc.returncode == 0, f"jackd exited with {again.proc.returncode}"
    assert eng.proc.returncode == 0, eng.output[-3000:]
    assert "Traceback" not in eng.output, eng.output[-3000:]
    hanging = hanging_notes(dev2.got)
    assert not hanging, f"notes left on after the rejoin: {sorted(hanging)}"
    take = next(Path(takes).glob("*.mid"))
    t, notes = 0.0, []
    for msg in mido.MidiFile(take):
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            notes.append(t)
    assert notes
    start = t_first - 0.5  # the take starts at about the first note; allow for the start-up
    assert any(n + start < t_stop for n in notes), (t_stop - t_first, notes[:5])
    assert any(n + start > t_up + 0.5 for n in notes) and max(notes) + start < t_end + 2.0, \
        (t_up - t_first, t_end - t_first, notes[-5:])
