"""FluidSynth: `liveai render` of a demo take, `--synth` over a real JACK server, and the clear
messages when FluidSynth or a soundfont is missing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import mido
import numpy as np
import pytest

from liveai.io.fluidsynth import APT_FLUIDSYNTH, SYNTH_CLIENT, SynthMissing, find_soundfont, render

from tests.view.helpers import demo_take

needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="apt-get install fluidsynth")


def _soundfont_or_skip() -> str:
    try:
        return find_soundfont()
    except SynthMissing as e:
        pytest.skip(str(e))


@needs_fluidsynth
def test_render_writes_a_non_silent_wav_of_the_takes_length(tmp_path):
    _soundfont_or_skip()
    take = demo_take(tmp_path / "take.mid", bars=8)
    wav = tmp_path / "take.wav"
    r = subprocess.run([sys.executable, "-m", "liveai", "render", str(take), "--out", str(wav)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with wave.open(str(wav)) as w:
        rate, n, ch = w.getframerate(), w.getnframes(), w.getnchannels()
        samples = np.frombuffer(w.readframes(n), dtype=np.int16).reshape(-1, ch)
    seconds = n / rate
    length = mido.MidiFile(take).length
    # the take's length, plus at most the instruments' release tail
    assert length <= seconds <= length + 3.0, (seconds, length)
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    print(f"render: {seconds:.2f} s of WAV for a {length:.2f} s take, RMS {rms:.0f}")
    assert rms > 100, rms  # audible, not a file of zeros
    # sound while the band plays, in every second of the take (not one burst at the start)
    per_s = [np.abs(samples[int(i * rate):int((i + 1) * rate)]).max() for i in range(int(length))]
    assert min(per_s) > 200, per_s


def test_missing_fluidsynth_says_what_to_install(tmp_path):
    take = demo_take(tmp_path / "take.mid", bars=1)
    env = {**os.environ, "PATH": str(tmp_path)}  # no fluidsynth on it
    r = subprocess.run([sys.executable, "-m", "liveai", "render", str(take), "--out", str(tmp_path / "t.wav")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2 and APT_FLUIDSYNTH in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "liveai", "run", "--synth", "--no-midi", "--osc-port", "0",
                        "--oscquery-port", "-1", "--no-realtime"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2 and APT_FLUIDSYNTH in r.stderr and "Traceback" not in r.stderr


def test_missing_soundfont_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr("liveai.io.fluidsynth.SOUNDFONTS", (str(tmp_path / "none.sf2"),))
    monkeypatch.delenv("LIVEAI_SOUNDFONT", raising=False)
    with pytest.raises(SynthMissing, match="apt-get install fluid-soundfont-gm"):
        find_soundfont()
    with pytest.raises(SynthMissing, match="does not exist"):
        find_soundfont(str(tmp_path / "given.sf2"))
    with pytest.raises(SynthMissing):
        render(tmp_path / "x.mid", tmp_path / "x.wav")


def test_a_bad_liveai_soundfont_is_an_error_naming_the_variable_and_the_file(tmp_path, monkeypatch):
    """Issue 29 item 6: $LIVEAI_SOUNDFONT naming a file that is not a SoundFont (or none) was
    quietly replaced by the system's soundfont."""
    bad = tmp_path / "bad.sf2"
    bad.write_text("not a soundfont")
    for given, why in ((bad, "is not a SoundFont (.sf2 or .sf3)"), (tmp_path / "none.sf2", "does not exist"),
                       (tmp_path, "is not a file")):
        monkeypatch.setenv("LIVEAI_SOUNDFONT", str(given))
        with pytest.raises(SynthMissing) as e:
            find_soundfont()
        assert str(e.value) == f"$LIVEAI_SOUNDFONT: soundfont {given} {why}"
    real = tmp_path / "real.sf2"  # a SoundFont's header is all the check reads
    real.write_bytes(b"RIFF\0\0\0\0sfbk")
    monkeypatch.setenv("LIVEAI_SOUNDFONT", str(real))
    assert find_soundfont() == str(real)  # a good one is used


@needs_fluidsynth
@pytest.mark.parametrize("args, env", [
    (("render", "TAKE", "--out", "OUT"), True),
    (("render", "TAKE", "--out", "OUT", "--soundfont", "BAD"), False),
    (("run", "--synth", "--soundfont", "BAD"), False),
    (("run", "--synth"), True),
    (("demo", "--synth", "--soundfont", "BAD"), False),
    (("demo", "--synth"), True),
], ids=["render-env", "render-flag", "run-flag", "run-env", "demo-flag", "demo-env"])
def test_a_bad_soundfont_is_one_error_line_before_anything_opens(tmp_path, args, env):
    """Issue 29 item 6: `render` with a bad $LIVEAI_SOUNDFONT wrote a WAV with the system's sound;
    `demo --synth --soundfont bad.sf2` first said, falsely, "no MIDI output (...); playing over OSC
    only". Each is now exactly one error line naming the file (and the variable), at once: no MIDI
    port, JACK server or OSC port is needed to say it, and nothing is written."""
    from tests.helpers import said_lines
    bad = tmp_path / "bad.sf2"
    bad.write_text("not a soundfont")
    take = demo_take(tmp_path / "take.mid", bars=1)
    out = tmp_path / "y.wav"
    argv = [{"TAKE": str(take), "OUT": str(out), "BAD": str(bad)}.get(a, a) for a in args]
    repo = str(Path(__file__).resolve().parents[2])
    environ = {k: v for k, v in os.environ.items() if k != "LIVEAI_SOUNDFONT"} | {"PYTHONPATH": repo}
    if env:
        environ["LIVEAI_SOUNDFONT"] = str(bad)
    r = subprocess.run([sys.executable, "-m", "liveai", *argv], capture_output=True, text=True, timeout=60,
                       env=environ, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    want = f"liveai: error: {'$LIVEAI_SOUNDFONT: ' if env else ''}soundfont {bad} is not a SoundFont (.sf2 or .sf3)"
    assert said_lines(r.stderr) == [want], r.stderr
    assert r.stdout == ""  # refused before the demo's banner, and nothing played
    assert not out.exists()


@pytest.mark.integration
@needs_fluidsynth
def _run_synth(osc_port: int, osc_out: int, *extra: str):
    """`liveai run --synth` over JACK with the rules band, controlled on osc_port."""
    from tests.integration.support import EngineProcess
    return EngineProcess("run", "--synth", "--midi-api", "jack", "--no-midi", "--no-realtime", "--generator", "rules",
                         "--osc-port", str(osc_port), "--oscquery-port", "-1", "--osc-out", f"127.0.0.1:{osc_out}",
                         "--tempo", "120", "--idle-bars", "0", *extra)


def test_run_synth_over_jack_makes_sound(jack_server, free_udp_port):
    """`liveai run --synth` on a JACK server (dummy driver): FluidSynth starts, our MIDI reaches
    it, and its audio output ports carry sound while the band plays (captured by a JACK client)."""
    jack = pytest.importorskip("jack")
    _soundfont_or_skip()
    from tests.integration.support import OscPeer
    port = free_udp_port()
    eng = _run_synth(port, free_udp_port())
    client = jack.Client("liveai-test-capture", no_start_server=True)
    peaks: list[tuple[float, float]] = []
    lock = threading.Lock()
    ins = [client.inports.register(f"in_{i}") for i in (1, 2)]

    @client.set_process_callback
    def process(frames):  # runs in JACK's thread: keep it to a max()
        m = max(float(np.abs(p.get_array()).max()) for p in ins)
        with lock:
            peaks.append((time.monotonic(), m))

    peer = OscPeer()
    try:
        eng.wait_for_line("ready in", 40)
        assert "FluidSynth" in eng.output
        client.activate()
        outs = [p.name for p in client.get_ports(f"{SYNTH_CLIENT}:", is_audio=True, is_output=True)]
        assert len(outs) == 2, client.get_ports(is_audio=True)
        for src, dst in zip(outs, ins):
            client.connect(src, dst)
        # our MIDI output is wired to FluidSynth's input
        midi_in = client.get_ports(f"{SYNTH_CLIENT}:", is_midi=True, is_input=True)[0]
        assert any(p.name.startswith("liveai") for p in client.get_all_connections(midi_in))
        time.sleep(1.0)
        with lock:
            quiet = max((m for _, m in peaks), default=0.0)
        t_play = time.monotonic()
        for bar in range(4):  # the player: D major, a note a beat for four bars
            for n in (62, 66, 69, 74):
                peer.send(port, "/liveai/player/note", n, 90)
                time.sleep(0.45)
                peer.send(port, "/liveai/player/note", n, 0)
                time.sleep(0.05)
        time.sleep(0.5)
        with lock:
            playing = [m for t, m in peaks if t > t_play + 0.5]
        print(f"JACK capture of {SYNTH_CLIENT}: peak before playing {quiet:.5f}, while playing "
              f"{max(playing, default=0.0):.4f}, periods with sound "
              f"{sum(1 for m in playing if m > 1e-3)}/{len(playing)}")
        assert quiet < 1e-3, quiet  # silence before the band plays
        assert playing and max(playing) > 0.01, max(playing, default=0.0)
        loud = sum(1 for m in playing if m > 1e-3) / len(playing)
        assert loud > 0.5, loud  # sound through most of the playing time
    finally:
        peer.close()
        client.deactivate()
        client.close()
        eng.stop()
    # FluidSynth went with it
    r = subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=10)
    assert SYNTH_CLIENT not in r.stdout


def test_a_killed_synth_is_reported_and_comes_back_with_its_programs(jack_server, free_udp_port, tmp_path):
    """Issue 29 item 1: `kill -9` FluidSynth under `liveai run --synth --record`: the fault is said
    within a second (the log and /liveai/error to OSC listeners), FluidSynth is running again with
    our output wired to it and sounding within five (its audio captured by a JACK client), the take
    holds the band's notes before and after, and once the band stops the synth falls silent (no
    note hangs on it); the run goes on."""
    jack = pytest.importorskip("jack")
    _soundfont_or_skip()
    import signal
    import mido
    from tests.integration.support import OscPeer
    port = free_udp_port()
    takes = tmp_path / "takes"
    eng = _run_synth(port, free_udp_port(), "--record", str(takes))
    client = jack.Client("liveai-test-watch", no_start_server=True)
    peaks: list[tuple[float, float]] = []
    lock = threading.Lock()
    ins = [client.inports.register(f"in_{i}") for i in (1, 2)]

    @client.set_process_callback
    def process(frames):  # runs in JACK's thread: keep it to a max()
        m = max(float(np.abs(p.get_array()).max()) for p in ins)
        with lock:
            peaks.append((time.monotonic(), m))

    def hear_synth() -> None:  # FluidSynth's audio outputs into ours (again after a restart)
        outs = [p.name for p in client.get_ports(f"{SYNTH_CLIENT}:", is_audio=True, is_output=True)]
        for src, dst in zip(outs, ins):
            if dst.name not in [c.name for c in client.get_all_connections(src)]:
                client.connect(src, dst)

    def loudest(t0: float, t1: float = float("inf")) -> float:
        with lock:
            return max((m for t, m in peaks if t0 <= t < t1), default=0.0)

    peer = OscPeer()
    try:
        eng.wait_for_line("ready in", 40)
        peer.send(port, "/liveai/listen")
        client.activate()
        hear_synth()

        def synth_pids():
            out = subprocess.run(["pgrep", "-P", str(eng.proc.pid), "fluidsynth"], capture_output=True, text=True)
            return [int(p) for p in out.stdout.split()]

        def wired():
            ins_ = client.get_ports(f"{SYNTH_CLIENT}:", is_midi=True, is_input=True)
            return bool(ins_) and any(p.name.startswith("liveai") for p in client.get_all_connections(ins_[0]))
        first = synth_pids()
        assert len(first) == 1 and wired()
        t_first = time.monotonic()
        for n in (62, 66, 69):
            peer.send(port, "/liveai/player/note", n, 90)
        time.sleep(1.5)
        assert loudest(t_first + 0.5) > 0.01, "FluidSynth was silent before the kill"
        t_kill = time.monotonic()
        os.kill(first[0], signal.SIGKILL)
        t_said, _ = eng.wait_for_line("FluidSynth stopped (exit -9): starting it again", 5)
        assert eng.t_start + t_said - t_kill < 1.0, eng.t_start + t_said - t_kill
        t_back, line = eng.wait_for_line("FluidSynth is back", 10)
        assert eng.t_start + t_back - t_kill < 5.0, eng.t_start + t_back - t_kill
        assert "sounding notes restored" in line
        again = synth_pids()
        assert len(again) == 1 and again != first and wired()
        hear_synth()
        deadline = t_kill + 5.0
        while time.monotonic() < deadline and loudest(eng.t_start + t_back) <= 0.01:
            time.sleep(0.05)
        sound_back = next((t for t, m in list(peaks) if t > eng.t_start + t_back and m > 0.01), None)
        assert sound_back is not None and sound_back - t_kill < 5.0, "no sound within 5 s of the kill"
        peer.wait_for(lambda m: m.address == "/liveai/error" and "FluidSynth stopped" in str(m.args), 2.0)
        time.sleep(1.0)
        for n in (62, 66, 69):
            peer.send(port, "/liveai/player/note", n, 0)
        peer.send(port, "/liveai/stop")  # the band stops: every note it sounds ends
        t_stop = time.monotonic()
        time.sleep(4.0)  # release tails and reverb die away
        tail = loudest(t_stop + 3.0)
        assert eng.proc.poll() is None  # the run goes on
    finally:
        peer.close()
        client.deactivate()
        client.close()
        eng.stop()
    print(f"killed FluidSynth: said after {(eng.t_start + t_said - t_kill) * 1000:.0f} ms, back after "
          f"{(eng.t_start + t_back - t_kill) * 1000:.0f} ms, sounding after {(sound_back - t_kill) * 1000:.0f} ms; "
          f"loudest 3-4 s after the band stopped {tail:.5f}")
    assert tail < 1e-3, f"the synth still sounds after the band stopped (peak {tail:.4f}): a note hangs"
    take = next(takes.glob("*.mid"))
    t, onsets = 0.0, []
    for msg in mido.MidiFile(take):
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            onsets.append(t)
    start = t_first - onsets[0]  # the take's first note is the player's first, sent at t_first
    assert any(start + o < t_kill - 0.3 for o in onsets[3:]), onsets[:8]  # the band's, before the kill
    assert any(start + o > eng.t_start + t_back + 0.3 for o in onsets), (t_back, onsets[-5:])  # and after

    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split()[2] != "Z"
        except OSError:
            return False
    assert eng.proc.poll() is not None and not alive(again[0])  # the restarted FluidSynth went with it
