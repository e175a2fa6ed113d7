"""A port that goes while the JACK server stays up (issue 29): the synth's program quits under
`liveai run --midi-api jack --midi-out NAME` (or the hot-plug `--midi-out auto`). liveai says so
within 1 s (terminal, /liveai/error, the FAULT record), connects again within 5 s of a port of that
name returning, tells it the programs again, leaves no note hanging and keeps the take going.

Over a private jackd; the synth is a JACK client in a process of its own (killed as a crashed
synth would be, then started again with the same client and port names)."""
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
TAG = f"Pg{os.getpid()}"
SYNTH = f"{TAG}syn"  # its JACK client; its port is SYNTH:midi

# A synth: what its port hears goes to stdout as [monotonic time, bytes]; stdin closed: it exits.
_SYNTH = r"""
import json, sys, time
import rtmidi
syn = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=sys.argv[1])
syn.open_virtual_port("midi")
syn.set_callback(lambda ev, data=None: print(json.dumps([time.monotonic(), ev[0]]), flush=True))
print("ready", flush=True)
sys.stdin.read()
syn.close_port()
syn.delete()
"""


class Synth:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _SYNTH, SYNTH], text=True, bufsize=1,
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

    def stop(self, kill: bool = False) -> None:
        """kill: as a crash (the server stays up and frees the client); else it closes its port."""
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._thread.join(2)


def _note_ons(msgs):
    return [(t, m) for t, m in msgs if m[0] & 0xF0 == 0x90 and m[2] > 0]


def _programs(msgs) -> set[tuple[int, ...]]:
    return {tuple(m) for _, m in msgs if m[0] & 0xF0 == 0xC0}


class PageFaults:
    """The web page's fault line (liveai.control.web FAULT) as a page hears it: (time, text) each."""

    def __init__(self, url: str) -> None:
        from pythonosc.osc_message import OscMessage
        from websockets.sync.client import connect
        self.got: list[tuple[float, str]] = []
        self._conn = connect(url.replace("http://", "ws://"))
        self.ws = self._conn.__enter__()
        self.ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/liveai/fault"}))

        def read() -> None:
            try:
                for data in self.ws:
                    m = OscMessage(data)
                    self.got.append((time.monotonic(), m.params[0]))
            except Exception:
                pass
        self._thread = threading.Thread(target=read, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._conn.__exit__(None, None, None)
        self._thread.join(2)


def _wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("how", ["name", "name-thread", "auto"])
def test_a_synth_port_that_goes_and_returns_is_said_and_followed(tmp_path, free_udp_port, how):
    for tool in ("jackd", "jack_lsp"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install jackd2)")
    from tests.integration.support import EngineProcess, OscPeer
    cfg = tmp_path / "liveai.toml"
    cfg.write_text(f'auto_out = "{SYNTH}"\nhotplug_poll = 1.5\nstart_now = true\ntempo = 160.0\nosc_out = []\n'
                   "[programs]\nbass = 33\n")
    server = JackServer(period=256, prefix="lvpg", log_path=tmp_path / "jackd.log").__enter__()
    env = {"JACK_DEFAULT_SERVER": server.name, "JACK_NO_START_SERVER": "1"}
    takes = tmp_path / "takes"
    port = free_udp_port()
    syn = Synth()
    syn2 = None
    eng = EngineProcess("run", "--config", str(cfg), "--midi-api", "jack", "--midi-out",
                        "auto" if how == "auto" else SYNTH, "--band", "pop", "--generator", "rules",
                        "--record", str(takes), "--no-realtime", "--osc-port", str(port), "--oscquery-port", "-1",
                        "--idle-bars", "0",
                        # name: the port lives in the sender process (the default), whose faults reach
                        # the engine's record and /liveai/error; name-thread: in the engine's process
                        *(["--sender", "thread"] if how == "name-thread" else []),
                        # and the web page shows the fault (the process's, through the engine's record)
                        *(["--web", "--web-port", "0"] if how == "name" else []), env=env)
    peer = OscPeer()
    page = None
    try:
        eng.wait_for_line("ready in", 40)
        if how == "name":
            import re
            page = PageFaults(re.search(r"web page (http://\S+)", eng.output).group(1))
        peer.send(port, "/liveai/listen")
        t_first = time.monotonic()
        for n in (60, 64, 67):
            peer.send(port, "/liveai/player/note", n, 90)
        assert _wait(lambda: len(_note_ons(syn.got)) > 6, 8), f"the band did not sound: {eng.output[-2000:]}"
        programs = _programs(syn.got)
        assert programs, "no program change reached the synth"
        n_osc = len(peer.messages)
        t_gone = time.monotonic()
        syn.stop(kill=True)  # the synth crashes; the JACK server stays up
        t_said, line = eng.wait_for_line(f"{SYNTH}:midi went" if how != "auto" else f"{SYNTH}:midi is gone", 3)
        said = eng.t_start + t_said - t_gone
        err = peer.wait_for(lambda m: m.address == "/liveai/error" and SYNTH in str(m.args), 3.0, after=n_osc)
        err_s = err.t - t_gone
        time.sleep(1.0)  # playing into nothing meanwhile
        assert eng.proc.poll() is None, eng.output[-3000:]
        syn2 = Synth()
        assert _wait(lambda: _programs(syn2.got) and len(_note_ons(syn2.got)) > 3, 8), \
            f"nothing reached the synth after it returned: {eng.output[-3000:]}"
        back = min(t for t, m in syn2.got) - syn2.t_ready
        assert programs <= _programs(syn2.got), (programs, _programs(syn2.got))
        for n in (60, 64, 67):
            peer.send(port, "/liveai/player/note", n, 0)
        time.sleep(1.0)
        t_end = time.monotonic()
        print(f"{how}: port gone said after {said * 1000:.0f} ms in the log ({line.strip()[:90]}...), "
              f"/liveai/error after {err_s * 1000:.0f} ms; back {back * 1000:.0f} ms after the synth returned")
        assert said < 1.0, said
        assert err_s < 1.0, err_s
        assert back < 5.0, back
        if page is not None:
            shown = [(t - t_gone, text) for t, text in page.got if t > t_gone]
            print(f"the page showed {shown}")
            assert page.got and page.got[0][1] == "", page.got  # nothing down at the start
            assert shown and SYNTH in shown[0][1] and shown[0][0] < 1.0, shown
            assert _wait(lambda: page.got[-1][1] == "", 3.0), page.got  # cleared when it is back
    finally:
        if page is not None:
            page.close()
        peer.close()
        eng.stop()
        time.sleep(0.3)
        syn.stop()
        if syn2 is not None:
            syn2.stop()
            time.sleep(0.3)
        server.__exit__(None, None, None)
    print(eng.output[-1500:])
    assert eng.proc.returncode == 0, eng.output[-3000:]
    assert "Traceback" not in eng.output, eng.output[-3000:]
    assert "is back" in eng.output, eng.output[-3000:]
    hanging = hanging_notes(syn2.got)
    assert not hanging, f"notes left on after the return: {sorted(hanging)}"
    first_after = min(t for t, m in syn2.got)
    assert any(m[0] & 0xF0 == 0xB0 and m[1] == 123 for _, m in syn2.got), "the returned synth got no reset"
    take = next(Path(takes).glob("*.mid"))
    t, notes = 0.0, []
    for msg in mido.MidiFile(take):
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            notes.append(t)
    start = t_first - 0.5  # the take starts at about the first note; allow for the start-up
    assert any(n + start < t_gone for n in notes), (t_gone - t_first, notes[:5])
    assert any(n + start > first_after + 0.3 for n in notes) and max(notes) + start < t_end + 2.0, \
        (first_after - t_first, t_end - t_first, notes[-5:])
