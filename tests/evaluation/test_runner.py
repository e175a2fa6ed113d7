"""Reading the demo's session files back onto the grid, scoring them, and the one command."""
import subprocess
import sys

import mido
import pytest

from liveai.evaluation.harmony import Note
from liveai.evaluation.runner import (Case, demo_command, means, piano_roll, read_output, reference_sessions,
                                      score_output, score_tune_output, table, tune_case)
from liveai.evaluation.annotated import TUNES
from liveai.music.theory import ChordSymbol


def _session_file(path, tracks, first_tick=0, tpb=480, meter=(3, 4)):
    """A file laid out like liveai.io.recorder's: conductor, then named tracks of (note, start tick,
    end tick, channel)."""
    mf = mido.MidiFile(type=1, ticks_per_beat=tpb)
    cond = mido.MidiTrack()
    cond += [mido.MetaMessage("set_tempo", tempo=500000, time=0),
             mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1], time=0)]
    mf.tracks.append(cond)
    for name, notes in tracks.items():
        tr = mido.MidiTrack()
        tr.append(mido.MetaMessage("track_name", name=name, time=0))
        evs = []
        for p, s, e, ch in notes:
            evs += [(s + first_tick, 1, mido.Message("note_on", channel=ch, note=p, velocity=80)),
                    (e + first_tick, 0, mido.Message("note_off", channel=ch, note=p, velocity=0))]
        t = 0
        for tick, _, m in sorted(evs, key=lambda e: (e[0], e[1])):
            tr.append(m.copy(time=tick - t))
            t = tick
        mf.tracks.append(tr)
    mf.save(str(path))
    return path


def test_read_output_grid_from_the_players_first_note(tmp_path):
    q = 120  # a 16th at 480 ticks per beat
    f = _session_file(tmp_path / "s.mid", {
        "player": [(72, 0, 4 * q, 0)],
        "bass": [(48, 2 * q + 7, 6 * q - 5, 1)],       # a few ticks off the grid: rounded
        "alto": [(64, 2 * q, 2 * q + 10, 3)],          # shorter than a 16th: one step
        "drums": [(36, 0, q, 9)]}, first_tick=960)     # channel 10: not harmony
    player, acc, spb = read_output(f)
    assert spb == 12
    assert player == [Note(72, 0, 4, "player")]
    assert sorted(acc) == [Note(48, 2, 6, "bass"), Note(64, 2, 3, "alto")]


def test_score_output_against_chords(tmp_path):
    q = 120
    tune = TUNES["waltz-c"]  # 3/4, C for two bars
    chords = tune.chord_steps()
    f = _session_file(tmp_path / "s.mid", {
        "player": [(n.pitch, n.start * q, n.end * q, 0) for n in tune.notes],
        "bass": [(48, 0, 24 * q, 1)], "tenor": [(52, 0, 24 * q, 2)], "alto": [(55, 0, 24 * q, 3)]})
    s = score_output(f, chords[:24])
    assert s["precision"] == s["recall"] == s["implied_alone"] == 1.0
    assert score_tune_output(tune, f)["recall"] == pytest.approx(12 / (len(chords) - 12))  # silent after bar 2


def test_table_and_roll_show_every_accompanist():
    case = tune_case(TUNES["hymn-d"])
    res = {case.key: reference_sessions(case)}
    m = means(res)
    t = table(m, "x")
    assert "| metric | drone | ceiling |" in t and "bass on the root" in t
    assert f"| {m['ceiling']['f1']:.2f} |" in t.split("F1")[1].split("\n")[0]
    roll = piano_roll(case, res[case.key], [1])
    lines = roll.splitlines()
    assert len(lines) == 3 + 16
    assert "Bm" in lines[3] and "*D5" in lines[3] and "*B3" in lines[3]  # bar 2: Bm, melody D5, ceiling B3 D4 F#4


def test_case_writes_its_input_with_markers(tmp_path):
    from liveai.evaluation.annotated import read_chord_markers
    case = tune_case(TUNES["song-a"], "chords")
    p = case.write_input(tmp_path / "in.mid")
    marks, spb, total = read_chord_markers(p)
    assert spb == 16 and total == case.total and len(marks) == len(case.markers)
    assert case.key == "song-a+chords"


def test_demo_command_is_the_documented_one():
    cmd = demo_command("X.mid", "OUT.mid", "rules")
    assert cmd[1:] == ["-m", "liveai", "demo", "--fast", "--input", "X.mid", "--seed", "1", "--out", "OUT.mid",
                       "--generator", "rules"]
    assert "--generator" not in demo_command("X.mid", "OUT.mid")


def test_command_runs_one_tune(tmp_path):
    """The whole path: tune -> MIDI -> real demo CLI (model and rules) -> read back -> table."""
    r = subprocess.run([sys.executable, "-m", "liveai", "evaluate", "--tunes", "song-a", "--variants", "melody",
                        "--workdir", str(tmp_path), "--json", str(tmp_path / "r.json")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    head = "| metric | model | rules | drone | ceiling |"
    assert head in r.stdout
    import json
    res = json.loads((tmp_path / "r.json").read_text())["melody"]
    assert res["ceiling"]["f1"] == 1.0
    for g in ("model", "rules"):
        assert 0.0 < res[g]["precision"] <= 1.0 and 1.0 <= res[g]["distinct"] <= 3.0
    assert (tmp_path / "song-a.model.out.mid").exists()


def test_command_rejects_unknown_tunes():
    from liveai.evaluation.__main__ import main
    assert main(["--tunes", "no-such-tune"]) == 2
