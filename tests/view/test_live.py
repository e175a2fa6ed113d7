"""The live view: its lines from a snapshot, and the real thing under a pseudo-terminal."""
from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import mido

from liveai.view.live import render_lines

from .helpers import demo_take

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_lines_show_position_tempo_key_chords_parts_counters_ports():
    snap = {"running": True, "bar": 5, "beat": 3, "meter": "3/4", "tempo": 96.0, "follow": "player",
            "mode": "accompany", "key": "D major", "chord": "Bm", "next_chord": "G", "playing": ["bass"],
            "parts": ("bass", "tenor"), "steps": 80, "fallback_steps": 2, "late_steps": 1, "errors": 0}
    text = "\n".join(render_lines(snap, {"osc": "in :9000", "midi": "out liveai:out"}, total_bars=32))
    for want in ("bar 5 of 32", "beat 3/3", "96.0 BPM (follows the player)", "key D major", "chord Bm",
                 "next G", "bass *", "tenor .", "fallback 2", "late 1", "osc in :9000", "out liveai:out"):
        assert want in text, (want, text)
    corrected = "\n".join(render_lines({**snap, "corrections": 3}))
    assert "next G (3 corrected)" in corrected, corrected
    idle = "\n".join(render_lines({"running": False, "tempo": 120.0, "follow": "clock", "clock": "midi"}))
    assert "waiting for the first note" in idle and "follows the midi clock" in idle and "chord -  next -" in idle


def _run_in_pty(args: list[str], timeout: float) -> str:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the engine on a terminal
        os.chdir(REPO)
        os.environ["PYTHONPATH"] = REPO
        os.execv(sys.executable, [sys.executable, "-m", "liveai", *args])
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                buf += data
    finally:
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    return buf.decode(errors="replace")


def test_demo_shows_chord_and_bar_while_the_band_plays(tmp_path, free_udp_port):
    tune = demo_take(tmp_path / "tune.mid", bars=4)  # its player track is the demo's input
    mf = mido.MidiFile(tune)
    mf.tracks = [t for t in mf.tracks if t.name in ("liveai", "player")]
    mf.save(tmp_path / "in.mid")
    out = _run_in_pty(["demo", "--input", str(tmp_path / "in.mid"), "--tempo", "200", "--generator", "rules",
                       "--no-midi", "--osc-port", str(free_udp_port()),
                       "--oscquery-port", "-1", "--osc-out", f"127.0.0.1:{free_udp_port()}"], timeout=60)
    frames = out.split("\x1b[5F")  # each redraw moves back up to the area's first line
    assert len(frames) >= 10, out[-2000:]
    playing = [f for f in frames if re.search(r"bar \d+ of \d+", f)]
    assert playing, out[-2000:]
    # while the band plays: a real chord name and a bar number, from the engine's snapshot
    assert any(re.search(r"chord [A-G][#b]?\S*", f) for f in playing), playing[-1]
    bars = {int(m.group(1)) for f in playing for m in [re.search(r"bar (\d+) of", f)] if m}
    assert len(bars) >= 3, bars  # it moves
    assert "\x1b[2K" in out  # lines are cleared and redrawn in place
    assert "played" in out  # the summary after the area


def test_no_view_when_stdout_is_not_a_terminal(tmp_path, free_udp_port):
    tune = demo_take(tmp_path / "tune.mid", bars=1)
    mf = mido.MidiFile(tune)
    mf.tracks = [t for t in mf.tracks if t.name in ("liveai", "player")]
    mf.save(tmp_path / "in.mid")
    r = subprocess.run([sys.executable, "-m", "liveai", "demo", "--show", "--input", str(tmp_path / "in.mid"),
                        "--tempo", "240", "--generator", "rules", "--no-midi", "--osc-port", str(free_udp_port()),
                        "--oscquery-port", "-1", "--osc-out", f"127.0.0.1:{free_udp_port()}"],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "\x1b[" not in r.stdout and "played" in r.stdout
    assert "to hear it" in r.stdout or "OSC only" in r.stdout  # the banner says how to hear


def test_run_show_follows_a_player_over_osc(free_udp_port):
    """`liveai run --show` on a terminal: the player plays over OSC (real UDP); the area shows the
    bar moving and the chord the band plays; Ctrl-C leaves it and stops cleanly."""
    import socket
    import threading

    from tests.integration.support import osc_datagram
    port = free_udp_port()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(REPO)
        os.environ["PYTHONPATH"] = REPO
        os.execv(sys.executable, [sys.executable, "-m", "liveai", "run", "--show", "--no-midi", "--generator", "rules",
                                  "--tempo", "180", "--no-realtime", "--osc-port", str(port), "--oscquery-port", "-1",
                                  "--osc-out", f"127.0.0.1:{free_udp_port()}"])
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        deadline = time.monotonic() + 30
        while b"ready in" not in b"".join(chunks) and time.monotonic() < deadline:
            time.sleep(0.1)
        for bar in range(6):  # G major arpeggios, a note a beat
            for n in (67, 71, 74, 79):
                sock.sendto(osc_datagram("/liveai/player/note", n, 90), ("127.0.0.1", port))
                time.sleep(0.3)
                sock.sendto(osc_datagram("/liveai/player/note", n, 0), ("127.0.0.1", port))
                time.sleep(0.033)
        os.kill(pid, 2)  # Ctrl-C
        _, status = os.waitpid(pid, 0)
    finally:
        sock.close()
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    reader.join(2)
    os.close(fd)
    out = b"".join(chunks).decode(errors="replace")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, out[-2000:]
    frames = [f for f in out.split("\x1b[") if f.startswith("2Kliveai  bar")]
    bars = {int(re.search(r"bar (\d+)", f).group(1)) for f in frames}
    assert len(bars) >= 4, (bars, out[-1500:])
    chords = [f for f in out.split("\x1b[2K") if f.startswith("key ")]
    assert any(re.search(r"key G major\s+chord G\b", c) for c in chords), chords[-3:]
    assert "osc in :" + str(port) in out


def test_the_view_thread_runs_at_normal_priority_under_a_realtime_engine():
    """Threads inherit their starter's class: started from a SCHED_FIFO engine thread, the view
    must still drop to SCHED_OTHER (it draws for the eye, and must not compete with the music)."""
    import io
    import threading

    import pytest

    from liveai.view.live import LiveView

    seen: list[int] = []
    view_box: list[LiveView] = []

    def starter() -> None:  # stands for the engine's real-time main thread
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        except (OSError, AttributeError):
            seen.append(-1)
            return
        view = LiveView(lambda fn: fn(), lambda: {"running": False}, out=io.StringIO(), hz=10.0)
        view_box.append(view.start())

    t = threading.Thread(target=starter)
    t.start()
    t.join()
    if seen == [-1]:
        pytest.skip("real-time scheduling not allowed here")
    view = view_box[0]
    try:
        deadline = time.monotonic() + 5
        while view.frames == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert view.frames > 0
        assert os.sched_getscheduler(view._thread.native_id) == os.SCHED_OTHER
    finally:
        view.stop()


def test_fault_line_shown_until_cleared():
    from liveai.io.faults import faults
    from liveai.view.live import render_lines
    f = faults()
    f.raise_("test-out", "MIDI output gone")
    try:
        # (the record is the process's: another test's fault may be on the line too)
        assert any(ln.startswith("FAULT") and "MIDI output gone" in ln for ln in render_lines({"running": False}))
    finally:
        f.clear("test-out")
    assert not any("MIDI output gone" in ln for ln in render_lines({"running": False}))
