import mido
import pytest

from liveai.io.recorder import Recorder, session_filename
from liveai.music.tunes import ODE_TO_JOY, tune_events
from tests.helpers import feed, sim_engine


def test_session_recording_is_type1_with_player_and_parts(tmp_path):
    clock, eng, sink = sim_engine(tempo=100.0)
    rec = Recorder(clock, 100.0, (4, 4), eng.voices)
    eng.scheduler.outputs.append(rec)
    eng.on_player.append(rec.player)
    events = tune_events(ODE_TO_JOY.notes()[:20], 100.0)
    end = feed(clock, eng, events)
    clock.call_at(end + 0.2, eng.stop_transport)  # stop while notes sound: they must be closed
    clock.run(until=end + 1.0)
    eng.shutdown()
    path = rec.save(tmp_path / "s.mid")
    mf = mido.MidiFile(path)
    assert mf.type == 1
    names = [t.name for t in mf.tracks]
    assert "player" in names and {"bass", "tenor", "alto"} <= set(names)
    player = mf.tracks[names.index("player")]
    assert [m.note for m in player if m.type == "note_on" and m.velocity] == [n.pitch for n in ODE_TO_JOY.notes()[:20]]
    for track in mf.tracks:
        open_ = {}
        for m in track:
            if m.type == "note_on" and m.velocity:
                open_[m.note] = open_.get(m.note, 0) + 1
            elif m.type in ("note_on", "note_off"):
                open_[m.note] = open_.get(m.note, 0) - 1
        assert all(v == 0 for v in open_.values()), f"open notes in {track.name}"


def test_recording_names_stay_in_their_directory(tmp_path):
    assert session_filename(tmp_path, name="take 1").parent == tmp_path.resolve()
    assert session_filename(tmp_path, name="../../etc/passwd").parent == tmp_path.resolve()
    assert session_filename(tmp_path).suffix == ".mid"


def test_thru_records_each_player_note_once(tmp_path):
    """Issue 12 item 3: with --thru the echo of the player's notes went to the recorder too, so the
    player track held every note twice. It must hold exactly what came in."""
    clock, eng, sink = sim_engine(tempo=100.0, thru=True)
    rec = Recorder(clock, 100.0, (4, 4), eng.voices)
    eng.scheduler.outputs.append(rec)
    eng.on_player.append(rec.player)
    played = ODE_TO_JOY.notes()[:48]
    end = feed(clock, eng, tune_events(played, 100.0))
    clock.run(until=end + 1.0)
    eng.shutdown()
    assert sink.notes_on["player"] == 48  # the echo itself still goes out
    mf = mido.MidiFile(rec.save(tmp_path / "thru.mid"))
    tracks = {t.name: t for t in mf.tracks}
    ons = [m.note for m in tracks["player"] if m.type == "note_on" and m.velocity]
    assert ons == [n.pitch for n in played]


import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pythonosc.osc_message_builder import OscMessageBuilder

REPO = Path(__file__).resolve().parents[2]


def _run_engine(cwd, record_dir, env=None):
    return subprocess.Popen([sys.executable, "-m", "liveai", "run", "--no-midi", "--start-now", "--generator", "rules",
                             "--record", str(record_dir), "--osc-port", "0", "--oscquery-port", "-1", "--osc-out",
                             "127.0.0.1:9", "--no-realtime", "--idle-bars", "0"],
                            cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _interrupt(proc, timeout=30):
    """Ctrl-C, then everything it printed (killed if it does not stop)."""
    try:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    return out


def _ready(proc):
    lines = []
    while True:
        line = proc.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
        m = re.search(r"ready in .* osc port (\d+)", line)
        if m:
            return int(m.group(1)), lines


def test_a_take_survives_sigkill_and_is_recovered_at_the_next_start(tmp_path):
    """Issue 12 item 4: the take is journaled as it goes, so a crash (SIGKILL, a power cut) loses
    at most a few seconds; the next start with the same recordings folder turns it into a file."""
    rec = tmp_path / "takes"
    proc = _run_engine(tmp_path, rec)
    try:
        port, _ = _ready(proc)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        played = [60, 62, 64, 65, 67, 69, 71, 72]
        for p in played:
            for vel in (90, 0):
                b = OscMessageBuilder("/liveai/player/note")
                b.add_arg(p, "i")
                b.add_arg(vel, "i")
                sock.sendto(b.build().dgram, ("127.0.0.1", port))
                time.sleep(0.15)
        time.sleep(2.5)  # a journal flush or two
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not list(rec.glob("*.mid")), "nothing can have been saved the normal way"
    assert list(rec.glob(".*.journal"))
    proc = _run_engine(tmp_path, rec)
    try:
        _, lines = _ready(proc)
        proc.send_signal(signal.SIGINT)
        out = "".join(lines) + proc.communicate(timeout=20)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "recovered" in out
    assert not list(rec.glob(".*.journal"))
    takes = sorted(rec.glob("*.mid"))
    recovered = [t for t in takes if "recovered" in t.name]
    assert len(recovered) == 1, (takes, out)
    mf = mido.MidiFile(recovered[0])
    tracks = {t.name: t for t in mf.tracks}
    assert [m.note for m in tracks["player"] if m.type == "note_on" and m.velocity] == played
    for track in mf.tracks:  # every note closed
        n = sum(1 if (m.type == "note_on" and m.velocity) else -1 for m in track if m.type in ("note_on", "note_off"))
        assert n == 0, track.name


def test_a_run_stopped_before_any_note_writes_no_empty_take(tmp_path):
    """Issue 29 item 6: every `run --record` that stopped before a note wrote an empty take. Now it
    says so and leaves the recordings folder as it was (no take, no journal)."""
    rec = tmp_path / "takes"
    proc = _run_engine(tmp_path, rec)
    _ready(proc)
    time.sleep(0.5)
    out = _interrupt(proc, 20)
    assert proc.returncode == 0, out
    assert "nothing was played: no take written" in out
    assert not rec.exists() or sorted(p.name for p in rec.iterdir()) == []


def test_a_full_disk_leaves_one_complete_take_and_no_recovered_duplicate(tmp_path):
    """Issue 29 item 3, on a real tmpfs with one page free: the journal fills it and says so once;
    at stop the take goes to the fallback folder, the journal is removed, and the next start
    recovers nothing (before: a truncated '-recovered' duplicate and an error after 'recorded')."""
    import shutil
    import mido
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        free = shutil.disk_usage(disk).free
        (disk / "filler").write_bytes(b"\0" * (free - 4096))  # one page left: the journal's header fits
        rec = disk / "takes"
        state = tmp_path / "state"
        env = {"XDG_STATE_HOME": str(state), "TMPDIR": str(tmp_path)}
        proc = _run_engine(tmp_path, rec, env)
        try:
            port, _ = _ready(proc)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(60):  # 6 s of notes, far more than a page of journal
                for vel in (90, 0):
                    b = OscMessageBuilder("/liveai/player/note")
                    b.add_arg(60 + i % 12, "i")
                    b.add_arg(vel, "i")
                    sock.sendto(b.build().dgram, ("127.0.0.1", port))
                    time.sleep(0.05)
            time.sleep(1.5)
        finally:
            out = _interrupt(proc)
        assert proc.returncode == 0, out
        assert out.count("liveai: recorded ") == 1 and "recording not saved" not in out, out
        assert out.count("journaling stops here") == 1, out  # the disk filled, said once
        assert "the take was saved to" in out, out  # its own place was full: the fallback folder
        saved = [p for p in state.rglob("*.mid")] + [p for p in rec.glob("*.mid")]
        assert len(saved) == 1, (saved, out)
        assert sum(1 for m in mido.MidiFile(saved[0]).tracks[1] if m.type == "note_on" and m.velocity) == 60
        assert not list(rec.glob(".*.journal")), list(rec.iterdir())
        # the next start with the same folder recovers nothing: no shorter duplicate
        proc = _run_engine(tmp_path, rec, env)
        _ready(proc)
        out2 = _interrupt(proc)
        assert "recovered" not in out2, out2
        assert not [p for p in list(state.rglob("*")) + list(rec.rglob("*")) if "recovered" in p.name]
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
