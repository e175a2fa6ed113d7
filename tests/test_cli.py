"""The command line, run as a user would."""
import pytest
import subprocess
import sys

import mido

from liveai.cli import build_parser

from tests.helpers import said_lines


def liveai(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "liveai", *args], capture_output=True, text=True, timeout=timeout)


def test_demo_fast_writes_a_closed_type1_file(tmp_path):
    out = tmp_path / "x.mid"
    r = liveai("demo", "--fast", "--out", str(out), "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert "played" in r.stdout
    mf = mido.MidiFile(out)
    names = [t.name for t in mf.tracks]
    assert "player" in names
    engine_notes = sum(1 for t in mf.tracks if t.name not in ("player", "liveai") for m in t
                       if m.type == "note_on" and m.velocity)
    assert engine_notes > 0


def test_demo_fast_is_deterministic_for_a_seed(tmp_path):
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    for p in (a, b):
        assert liveai("demo", "--fast", "--out", str(p), "--seed", "3").returncode == 0
    assert a.read_bytes() == b.read_bytes()


def test_demo_reads_meter_from_input_file(tmp_path):
    from liveai.music.tunes import AMAZING_GRACE_G, tune_events
    mf = mido.MidiFile(type=0)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(80)))
    tr.append(mido.MetaMessage("time_signature", numerator=3, denominator=4))
    last = 0.0
    for t, m in tune_events(AMAZING_GRACE_G.notes(), 80):
        tr.append(m.copy(time=int(round((t - last) * 80 / 60 * mf.ticks_per_beat))))
        last = t
    src = tmp_path / "grace.mid"
    mf.save(src)
    r = liveai("demo", "--fast", "--input", str(src), "--out", str(tmp_path / "o.mid"))
    assert r.returncode == 0, r.stderr
    assert "in 3/4" in r.stdout and "80 BPM" in r.stdout


def test_unknown_mode_lists_the_modes():
    r = liveai("demo", "--fast", "--mode", "polka")
    assert r.returncode == 2 and "known modes: accompany" in r.stderr


def test_run_help_documents_every_flag():
    helptext = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    for flag in ("--midi-api", "--midi-in", "--midi-out", "--virtual", "--thru", "--tempo", "--meter",
                 "--mode", "--generator", "--osc-port", "--osc-out", "--record", "--start-now", "--config"):
        assert flag in helptext


def test_unknown_port_lists_ports():
    from liveai.io.midi import PortNotFound, find_port
    try:
        find_port(["Keystation 49:0", "Synth"], "nanoKEY", "input")
    except PortNotFound as e:
        assert "Keystation 49:0" in str(e) and "nanoKEY" in str(e)
    else:
        raise AssertionError("no error")


def _liveai(*args, cwd=None, timeout=30):
    import os
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    return subprocess.run([sys.executable, "-m", "liveai", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(repo)}, timeout=timeout)


@pytest.mark.parametrize("bad", ["file", "file/sub"])
def test_record_into_a_file_or_below_one_fails_at_start(tmp_path, bad):
    """Issue 12 item 4: a bad --record target is an error at start (exit 2), not a lost take at stop."""
    (tmp_path / "file").write_text("x")
    try:
        p = _liveai("run", "--no-midi", "--record", str(tmp_path / bad), "--osc-port", "0", "--oscquery-port", "-1",
                    "--no-realtime", cwd=tmp_path, timeout=20)
    except Exception as e:  # today it starts and plays on
        pytest.fail(f"started with a bad --record: {e}")
    assert p.returncode == 2 and "cannot record" in p.stderr and "Traceback" not in p.stderr
    assert (tmp_path / "file").read_text() == "x"


def test_demo_out_to_an_unusable_place_fails_before_playing(tmp_path):
    (tmp_path / "file").write_text("x")
    p = _liveai("demo", "--fast", "--generator", "rules", "--out", str(tmp_path / "file" / "take.mid"), cwd=tmp_path)
    assert p.returncode == 2 and "cannot record" in p.stderr and "Traceback" not in p.stderr
    assert "liveai demo:" not in p.stdout  # refused before playing


# issue 12, item 9
def test_version():
    import liveai
    p = _liveai("--version")
    assert p.returncode == 0 and liveai.__version__ in p.stdout


def test_demo_checks_the_config_files_tempo(tmp_path):
    (tmp_path / "c.toml").write_text("tempo = 1000.0\n")
    p = _liveai("demo", "--fast", "--generator", "rules", "--config", str(tmp_path / "c.toml"), cwd=tmp_path)
    assert p.returncode == 2 and "tempo" in p.stderr and "c.toml" in p.stderr


def test_channel_flag_with_an_unknown_part_is_refused(tmp_path):
    # "drums" is a band part now (issue 14): a part no style or generator plays is refused
    p = _liveai("demo", "--fast", "--generator", "rules", "--channel", "kazoo=10", cwd=tmp_path)
    assert p.returncode == 2 and "kazoo" in p.stderr and "Traceback" not in p.stderr


def test_learn_on_a_missing_path_is_an_error_and_writes_nothing(tmp_path):
    p = _liveai("learn", str(tmp_path / "nope.mid"), "--out", str(tmp_path / "style.json"), cwd=tmp_path)
    assert p.returncode == 2 and "nope.mid" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "style.json").exists()


def test_train_without_the_train_extra_prints_the_pip_command(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    code = ("import sys; sys.modules['torch'] = None\n"  # as if torch were not installed
            "from liveai.cli import main; sys.exit(main(['train', '--quick']))")
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(repo)})
    assert p.returncode == 2 and "pip install" in p.stderr and "liveai[train]" in p.stderr
    assert "Traceback" not in p.stderr


# issue 12, item 8
def _input(path, bpm, n=16, tpb=480):
    mf = mido.MidiFile(type=1, ticks_per_beat=tpb)
    tr = mido.MidiTrack()
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
    for i in range(n):
        tr.append(mido.Message("note_on", note=60 + (i * 2) % 12, velocity=80, time=0))
        tr.append(mido.Message("note_off", note=60 + (i * 2) % 12, time=tpb))
    mf.tracks.append(tr)
    mf.save(path)
    return path


def test_demo_tempo_rescales_the_input(tmp_path):
    src = _input(tmp_path / "in.mid", 100.0)
    p = _liveai("demo", "--fast", "--generator", "rules", "--input", str(src), "--tempo", "200",
                "--out", str(tmp_path / "out.mid"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    mf = mido.MidiFile(tmp_path / "out.mid")
    player = next(t for t in mf.tracks if t.name == "player")
    ticks, now = [], 0
    for m in player:
        now += m.time
        if m.type == "note_on" and m.velocity:
            ticks.append(now)
    gaps = {b - a for a, b in zip(ticks, ticks[1:])}
    assert gaps == {mf.ticks_per_beat}, gaps  # one beat apart at the band's tempo, as in the file


def test_demo_fast_on_a_long_file_stops_on_ctrl_c_and_keeps_the_take(tmp_path):
    import os
    import signal
    import time
    from pathlib import Path
    src = _input(tmp_path / "long.mid", 120.0, n=40000)  # 40,000 beats: minutes even on the fast clock
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "liveai", "demo", "--fast", "--generator", "rules", "--input",
                             str(src), "--out", str(tmp_path / "out.mid")], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(repo)})
    try:
        assert "liveai demo" in proc.stdout.readline()
        time.sleep(1.5)
        assert proc.poll() is None, "the long file finished too soon to test"
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        took = time.perf_counter() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (0, 130) and "Traceback" not in err, err[-2000:]
    assert took < 3.0, f"took {took:.1f} s to stop"  # a second to stop, the rest to write the take
    mf = mido.MidiFile(tmp_path / "out.mid")
    player = next(t for t in mf.tracks if t.name == "player")
    assert sum(m.type == "note_on" and m.velocity > 0 for m in player) > 10


def test_unclear_errors_are_one_line_naming_the_file_key_or_value(tmp_path):
    """Issue 29 item 6, each a one-line error (rc 2, no traceback) that names what is wrong."""
    take = tmp_path / "take.mid"
    assert liveai("demo", "--fast", "--out", str(take)).returncode == 0
    cases = []
    # a misspelt part for --program was silently ignored (as --channel tuba=3 is not)
    cases.append((("demo", "--fast", "--program", "base=38"), "programs: unknown part 'base'"))
    # a deeply nested TOML said only "maximum recursion depth exceeded"
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    cases.append((("demo", "--fast", "--config", str(deep)), f"config file {deep} is nested too deeply"))
    cases.append((("demo", "--fast", "--band", str(deep)), f"band style file {deep}: style 'deep': nested too deeply"))
    # render onto a folder printed a traceback; a file that is not a soundfont was replaced silently
    cases.append((("render", str(take), "--out", str(tmp_path)), f"--out {tmp_path} is a folder"))
    cases.append((("render", str(tmp_path / "none.mid"), "--out", str(tmp_path / "x.wav")),
                  f"no such MIDI file: {tmp_path / 'none.mid'}"))
    bad = tmp_path / "bad.sf2"
    bad.write_text("not a soundfont")
    cases.append((("render", str(take), "--out", str(tmp_path / "x.wav"), "--soundfont", str(bad)),
                  f"soundfont {bad} is not a SoundFont"))
    for args, said in cases:
        r = liveai(*args)
        assert r.returncode == 2, (args, r.stderr)
        lines = said_lines(r.stderr)
        assert len(lines) == 1 and said in lines[0], (args, r.stderr)  # one line, and that one names it
        assert lines[0].startswith("liveai: error: ") and "Traceback" not in r.stderr, (args, r.stderr)
    assert not (tmp_path / "x.wav").exists()


def _unwritable_folder(tmp_path):
    """A folder no file can be made in, even by root (who writes in a chmod 555 one): the first of
    a read-only tmp folder, /sys and /proc that refuses a file; None if all take one."""
    import os
    import tempfile
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    for d in (ro, "/sys", "/proc"):
        try:
            fd, name = tempfile.mkstemp(dir=d)
        except OSError:
            return str(d)
        os.close(fd)
        os.unlink(name)
    return None


def test_render_onto_a_read_only_folder_is_one_line_naming_the_file(tmp_path):
    """Issue 29 item 6: `liveai render --out` where no file can be written is one error line that
    names the file, and writes nothing."""
    import shutil
    from liveai.io.fluidsynth import SynthMissing, find_soundfont
    if shutil.which("fluidsynth") is None:
        pytest.skip("apt-get install fluidsynth")
    try:
        find_soundfont()
    except SynthMissing as e:
        pytest.skip(str(e))
    folder = _unwritable_folder(tmp_path)
    if folder is None:
        pytest.skip("every folder tried takes a file here")
    take = tmp_path / "take.mid"
    assert liveai("demo", "--fast", "--generator", "rules", "--out", str(take)).returncode == 0
    out = f"{folder}/x.wav"
    r = liveai("render", str(take), "--out", out)
    assert r.returncode == 2, r.stderr
    lines = said_lines(r.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"liveai: error: cannot write {out}: "), r.stderr
    assert "Traceback" not in r.stderr
    from pathlib import Path
    assert not Path(out).exists()


def test_the_demo_banner_says_the_meter_once():
    r = liveai("demo", "--fast")
    first = r.stdout.splitlines()[0]
    assert first == "liveai demo: Ode to Joy (Beethoven), D major at 100 BPM in 4/4, mode accompany", first
