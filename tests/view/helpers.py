"""Shared by the view tests: a short demo take recorded through the real engine on the SimClock."""
from __future__ import annotations

from pathlib import Path

import mido

from liveai.app.run import run_simulated
from liveai.control.config import make_config
from liveai.music.tunes import BUILTIN, tune_events


def demo_take(path: Path, bars: int | None = None, **overrides) -> Path:
    """Record the built-in tune (or its first `bars` bars) with the rules band, as `demo --fast --out`."""
    notes = BUILTIN.notes()
    if bars is not None:
        steps = bars * BUILTIN.meter.steps_per_bar
        notes = [n for n in notes if n.start_step < steps]
    cfg = make_config(None, {"tempo": BUILTIN.tempo, "meter": str(BUILTIN.meter), "generator": "rules",
                             "osc_out": [], **overrides})
    run_simulated(cfg, tune_events(notes, cfg.tempo), str(path))
    return path


def midi_notes(path: Path) -> list[tuple[str, int, int]]:
    """(track name, pitch, start tick) of every note in a MIDI file, read with mido alone."""
    out = []
    for track in mido.MidiFile(path).tracks:
        tick = 0
        for m in track:
            tick += m.time
            if m.type == "note_on" and m.velocity > 0:
                out.append((track.name, m.note, tick))
    return out
