"""The JACK server stopped and started again mid-take (issue 29 item 2), over a real private jackd:
liveai says so at once, its ports and connections come back, the take goes on, nothing hangs."""
from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import mido
import pytest

from tests.helpers import hanging_notes
from latency_bench.common import JackServer
from liveai.io.jackwatch import server_id, socket_path

pytestmark = pytest.mark.integration


def test_server_id_follows_a_real_jackd(tmp_path):
    """The watch's check: the socket's identity while jackd runs, None once it is gone, a new
    identity for a new server of the same name."""
    _need_jack()
    server = JackServer(period=256, prefix="lvjwid", log_path=tmp_path / "jackd.log").__enter__()
    try:
        first = server_id(socket_path(server.name))
        assert first is not None
        server._stop()
        assert server_id(socket_path(server.name)) is None
        again = JackServer(period=256, prefix="lvjwid", log_path=tmp_path / "jackd.log").__enter__()
        try:
            assert server_id(socket_path(server.name)) not in (None, first)
        finally:
            again.__exit__(None, None, None)
    finally:
        server.__exit__(None, None, None)


def _need_jack() -> None:
    for tool in ("jackd", "jack_lsp", "jack_connect"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install jackd2)")


_RECEIVER = r"""
import json, sys, time
import rtmidi
port = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=sys.argv[1])
port.open_virtual_port("in")
print("ready", flush=True)
while True:
    m = port.get_message()
    if m is None:
        time.sleep(0.001)
        continue
    print(json.dumps([time.monotonic(), m[0]]), flush=True)
"""


class Receiver:
    """A real JACK MIDI input (rtmidi) on the private server, in a process of its own: its server
    is stopped under it, and a libjack client whose server died may crash its process (see
    liveai.io.jackwatch), which must not be the test's. got: (CLOCK_MONOTONIC time, bytes)."""

    def __init__(self, server: str, name: str = "lvrecv") -> None:
        import json
        import os
        import sys
        env = {**os.environ, "JACK_DEFAULT_SERVER": server, "JACK_NO_START_SERVER": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", _RECEIVER, name], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.got: list[tuple[float, list[int]]] = []
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

        def read() -> None:
            for line in self.proc.stdout:
                t, m = json.loads(line)
                self.got.append((t, m))
        self._thread = threading.Thread(target=read, daemon=True)
        self._thread.start()

    def stop(self, dead: bool = False) -> None:
        """Stop reading (before its server goes, or at the end)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._thread.join(2)


def _note_ons(msgs, after: float = 0.0, before: float = float("inf")):
    return [(t, m) for t, m in msgs if after <= t < before and m[0] & 0xF0 == 0x90 and m[2] > 0]




@pytest.mark.parametrize("sender", ["thread", "process"])
def test_a_stopped_jack_server_is_reported_and_rejoined_mid_take(tmp_path, free_udp_port, sender):
    """`liveai run --midi-api jack --virtual --band pop --record DIR`, then jackd stopped and, 1.5 s
    later, started again: the fault is said within 1 s (the log and /liveai/error), liveai:out and
    liveai-in:in are back within 5 s of the server, the connection to our receiver is made again
    and the band sounds there; the take has the notes from before and after, and every note the
    receiver heard after the rejoin was released."""
    _need_jack()
    from tests.integration.support import EngineProcess, OscPeer, jack_connect, jack_connections
    server = JackServer(period=256, prefix="lvjw", log_path=tmp_path / "jackd.log").__enter__()
    env = {"JACK_DEFAULT_SERVER": server.name, "JACK_NO_START_SERVER": "1"}
    takes = tmp_path / "takes"
    port = free_udp_port()
    eng = EngineProcess("run", "--midi-api", "jack", "--virtual", "--band", "pop", "--record", str(takes),
                        "--no-realtime", "--generator", "rules", "--osc-port", str(port), "--oscquery-port", "-1",
                        "--tempo", "120", "--idle-bars", "0", "--sender", sender, env=env)
    peer = OscPeer()
    recv = Receiver(server.name)
    again = None
    try:
        eng.wait_for_line("ready in", 40)
        peer.send(port, "/liveai/listen")
        jack_connect("liveai:out", "lvrecv:in")
        t_first = time.monotonic()
        for n in (60, 64, 67):  # the player holds a chord throughout
            peer.send(port, "/liveai/player/note", n, 90)
        time.sleep(3.0)
        assert _note_ons(recv.got), "the band did not sound before the stop"
        recv.stop()  # our receiver goes before its server (it is one of the outputs that come back)
        heard_before = list(recv.got)
        t_stop = time.monotonic()
        server._stop()
        t_said, _ = eng.wait_for_line("JACK server", 3)  # the sender process says so for its port too
        said = eng.t_start + t_said - t_stop
        peer.wait_for(lambda m: m.address == "/liveai/error" and "JACK server" in str(m.args), 2.0)
        time.sleep(1.5)
        again = JackServer(period=256, prefix="lvjw", log_path=tmp_path / "jackd.log").__enter__()
        t_up = time.monotonic()
        recv = Receiver(again.name)  # our receiver returns too: liveai connects to it again
        t_back, line = eng.wait_for_line("is back", 5)
        back = eng.t_start + t_back - t_up
        while True:  # each port reopens on its own: both within 5 s of the server
            ports = subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=10).stdout.split()
            if "liveai:out" in ports and "liveai-in:in" in ports:
                break
            assert time.monotonic() - t_up < 5.0, ports
            time.sleep(0.05)
        back = max(back, time.monotonic() - t_up)
        deadline = time.monotonic() + 5  # connected again by liveai (the sender process's port too)
        while "lvrecv:in" not in jack_connections().get("liveai:out", []):
            assert time.monotonic() < deadline, jack_connections()
            time.sleep(0.1)
        time.sleep(3.0)
        t_end = time.monotonic()
        print(f"JACK stop said after {said * 1000:.0f} ms; ports back {back * 1000:.0f} ms after the server")
        assert said < 1.0, said
        assert back < 5.0, back
        after = _note_ons(recv.got, after=t_up)
        assert after, "the band did not sound on the receiver after the rejoin"
        for n in (60, 64, 67):
            peer.send(port, "/liveai/player/note", n, 0)
        time.sleep(0.5)
    finally:
        peer.close()
        eng.stop()
        time.sleep(0.3)
        recv.stop()
        if again is not None:
            again.__exit__(None, None, None)
        server.__exit__(None, None, None)
    print(eng.output[-2500:])
    assert eng.proc.returncode == 0, eng.output[-2000:]
    assert "Traceback" not in eng.output, eng.output[-3000:]
    hanging = hanging_notes(recv.got)
    assert not hanging, f"notes left on after the rejoin: {sorted(hanging)}"
    take = next(Path(takes).glob("*.mid"))
    notes = []
    for msg_t, msg in _timed(mido.MidiFile(take)):
        if msg.type == "note_on" and msg.velocity > 0:
            notes.append(t_first + msg_t)
    assert any(t < t_stop for t in notes) and any(t_up + 0.5 < t < t_end for t in notes), (t_stop, t_up, notes)
    # the band went on playing while the server was away: the take has notes there too
    assert any(t_stop + 0.2 < t < t_up for t in notes)
    played = [t for t, _ in _note_ons(heard_before, after=t_first + 0.5)]
    assert all(any(abs(t - n) < 0.15 for n in notes) for t in played), "a note heard is not in the take"


def _timed(mid: mido.MidiFile):
    """(seconds from the take's start, message) of every message, tracks merged."""
    t = 0.0
    for msg in mid:
        t += msg.time
        yield t, msg
