"""OSC over real UDP with an independent implementation at the other end: liblo's oscdump receives
the engine's notes, liblo's oscsend controls it. The engine is a real-time `liveai demo` playing a
short tune (written here with mido) with no MIDI port, in a subprocess."""
from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections import Counter

import mido
import pytest

from .support import EngineProcess, OscPeer

pytestmark = pytest.mark.integration

TEMPO = 120
BARS = 4
NOTE_LINE = re.compile(r"^\S+ /liveai/(\w+)/note (\S+) (-?\d+) (-?\d+)$")


def write_tune(path) -> None:
    """BARS bars of quarter notes in C major at TEMPO, 4/4."""
    mf = mido.MidiFile(type=1, ticks_per_beat=480)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(TEMPO)))
    tr.append(mido.MetaMessage("time_signature", numerator=4, denominator=4))
    scale = [60, 62, 64, 65, 67, 65, 64, 62]
    for i in range(BARS * 4):
        tr.append(mido.Message("note_on", note=scale[i % 8], velocity=90, time=0))
        tr.append(mido.Message("note_off", note=scale[i % 8], velocity=0, time=480))
    mf.save(path)


class OscDump:
    """`oscdump -L PORT`, its lines collected in a thread."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen(["oscdump", "-L", str(port)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, pred, timeout: float, after: int = 0) -> str:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[after:]:
                    if pred(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"oscdump printed no matching line in {timeout} s; last lines: {self.lines[-5:]}")
                self.cond.wait(min(left, 0.2))

    def count(self) -> int:
        with self.cond:
            return len(self.lines)

    def close(self) -> list[str]:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.thread.join(5)
        return list(self.lines)


def oscsend(port: int, address: str, types: str = "", *values: str) -> None:
    args = ["oscsend", "127.0.0.1", str(port), address] + ([types, *values] if types else [])
    r = subprocess.run(args, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, f"{args}: {r.stdout}{r.stderr}"


@pytest.fixture
def liblo():
    for tool in ("oscsend", "oscdump"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install liblo-tools)")


def test_liblo_peers_receive_notes_and_control_the_engine(liblo, tmp_path, free_udp_port):
    tune = tmp_path / "tune.mid"
    write_tune(tune)
    dump_port, osc_port = free_udp_port(), free_udp_port()
    dump = OscDump(dump_port)
    peer = OscPeer()
    eng = None
    try:
        # oscdump is listening once it prints what we send it.
        deadline = time.monotonic() + 10
        while not any("/probe" in line for line in dump.lines):
            assert time.monotonic() < deadline, f"oscdump is not receiving: {dump.lines}"
            peer.send(dump_port, "/probe")
            time.sleep(0.1)

        eng = EngineProcess("demo", "--no-midi", "--input", str(tune), "--generator", "rules",
                            "--osc-port", str(osc_port), "--osc-out", f"127.0.0.1:{dump_port}")
        eng.wait_for_line("liveai: ready", timeout=30)

        # The engine's notes reach liblo as /liveai/<part>/note with two int32 arguments.
        first = dump.wait_for(lambda s: "/note " in s, timeout=10)
        assert NOTE_LINE.match(first) and NOTE_LINE.match(first).group(2) == "ii", first

        # Bad messages from liblo: no crash, nothing changes.
        for bad in [("/liveai/tempo", "s", "fast"), ("/liveai/tempo", "f", "1000"), ("/liveai/tempo", ""),
                    ("/liveai/tempo", "T"), ("/liveai/tempo", "N"), ("/liveai/mode", "i", "3"),
                    ("/liveai/mode", "s", "nonsense"), ("/liveai/panic", "i", "1"), ("/liveai/no/such", "f", "1"),
                    ("/liveai/tempo", "ff", "90", "91")]:
            oscsend(osc_port, *bad)
        # Errors go back to the sender's address (liblo's oscsend does not listen; ours does).
        err = peer.request(osc_port, "/liveai/tempo", "/liveai/error", "fast")
        assert "tempo" in err.args[0], err.args
        status = peer.request(osc_port, "/liveai/status", "/liveai/status/reply")
        assert status.args[3] == pytest.approx(TEMPO), status.args

        # A good tempo change from liblo takes effect.
        oscsend(osc_port, "/liveai/tempo", "f", "90")
        status = peer.request(osc_port, "/liveai/status", "/liveai/status/reply")
        assert status.types == "iiifsss", status.types
        assert status.args[3] == pytest.approx(90.0), status.args
        assert peer.request(osc_port, "/liveai/ping", "/liveai/pong").args == ()

        # Still playing after all that: more notes reach oscdump.
        n = dump.count()
        dump.wait_for(lambda s: "/note " in s, timeout=5, after=n)

        # The demo ends by itself when its tune is over.
        rc = eng.wait(timeout=40)
        assert rc == 0, eng.output[-3000:]
        time.sleep(0.3)
    finally:
        if eng is not None:
            eng.kill()
        peer.close()
        lines = dump.close()

    assert "Traceback" not in eng.output, eng.output[-3000:]
    notes = [NOTE_LINE.match(s) for s in lines if "/note " in s]
    assert all(notes), [s for s in lines if "/note " in s and not NOTE_LINE.match(s)][:5]
    assert {m.group(2) for m in notes} == {"ii"}
    assert len(notes) >= 2 * BARS * 4
    # Every note that started over OSC was closed over OSC (velocity 0 is the note-off).
    sounding: Counter = Counter()
    for m in notes:
        part, pitch, vel = m.group(1), int(m.group(3)), int(m.group(4))
        assert 0 <= pitch <= 127 and 0 <= vel <= 127
        sounding[(part, pitch)] += 1 if vel > 0 else -1
    assert +sounding == Counter() and -sounding == Counter(), sounding
