"""Fixtures for the band tests: a 3/4 tune as a MIDI file (the demo's built-in tune is 4/4), and
a runner for `liveai demo --fast` in a subprocess, as a user would run it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mido
import pytest

from liveai.music.tunes import SILENT_NIGHT_F, tune_events


def write_tune(tune, path: Path) -> Path:
    mf = mido.MidiFile(type=0, ticks_per_beat=480)
    tr = mido.MidiTrack()
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tune.tempo), time=0))
    tr.append(mido.MetaMessage("time_signature", numerator=tune.meter.beats, denominator=tune.meter.unit, time=0))
    last = 0
    for t, msg in tune_events(tune.notes(), tune.tempo):
        tick = int(round(t * tune.tempo / 60 * 480))
        tr.append(msg.copy(time=tick - last))
        last = tick
    mf.tracks.append(tr)
    mf.save(str(path))
    return path


@pytest.fixture(scope="session")
def waltz_tune(tmp_path_factory) -> Path:
    return write_tune(SILENT_NIGHT_F, tmp_path_factory.mktemp("tunes") / "silent_night.mid")


def run_demo(out: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`liveai demo --fast --generator rules --out OUT ARGS`, checked."""
    cmd = [sys.executable, "-m", "liveai", "demo", "--fast", "--generator", "rules", "--out", str(out), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       cwd=Path(__file__).resolve().parents[2])
    assert p.returncode == 0, p.stderr
    return p
