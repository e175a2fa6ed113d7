"""Acceptance on plain tunes (issue 3): what `liveai demo --fast --input TUNE.mid --mode accompany
--seed 1` plays with the built-in model must score note-in-chord >= 0.8 against the tune's chords,
well above a tonic drone, and play in at least 80% of the bars after the first.

The tunes are liveai.music.tunes.PLAIN_TUNES (keys other than C, 3/4 and 4/4, major and minor, a 12-bar
blues); they were not used to tune the decoding (that used the validation chorales and
liveai.train.evaluate.synthetic_tunes). The generator is built exactly as the demo builds it
(liveai.generators.make_generator("model", seed=1): temperature 0.7, top-p 0.9) and driven with
liveai.evaluation.run_online, which shows it what the engine would (input up to step k-2)."""
from __future__ import annotations

import pytest

from liveai.music import tunes as TU
from liveai.evaluation import bars_with_notes, note_in_chord, run_online
from liveai.generators import make_generator
from liveai.generators.neural import ModelGenerator
from liveai.train.baselines import TonicDrone

NOTE_IN_CHORD_MIN = 0.8
OVER_DRONE_MIN = 0.05  # "well above a tonic drone"
BARS_MIN = 0.8


def _score(gen, tune):
    spb, T = tune.meter.steps_per_bar, tune.total_steps
    got = run_online(gen, tune.notes(), spb, T)
    return note_in_chord(got, tune.chord_steps()), bars_with_notes(got, spb, T // spb)


def test_plain_tunes_cover_the_acceptance_cases():
    tunes = TU.PLAIN_TUNES.values()
    assert len(TU.PLAIN_TUNES) >= 6
    assert any(t.meter.steps_per_bar == 12 for t in tunes) and any(t.meter.steps_per_bar == 16 for t in tunes)
    assert all(t.tonic != 0 for t in tunes)  # no C
    assert any("minor" in t.name for t in tunes) and any("blues" in t.name for t in tunes)
    for t in tunes:  # the chords cover the melody bar for bar
        assert len(t.chord_steps()) == t.total_steps


@pytest.mark.parametrize("name", list(TU.PLAIN_TUNES) + list(TU.TUNES))
def test_demo_accompaniment_of_plain_tune(name):
    tune = {**TU.PLAIN_TUNES, **TU.TUNES}[name]
    gen = make_generator("model", seed=1)
    assert isinstance(gen, ModelGenerator)  # the demo's default is the model
    nic, bars = _score(gen, tune)
    drone, _ = _score(TonicDrone(tune.tonic), tune)
    print(f"{name}: note-in-chord {nic:.3f} (tonic drone {drone:.3f}), bars with notes {bars:.2f}")
    assert nic >= NOTE_IN_CHORD_MIN
    assert nic >= drone + OVER_DRONE_MIN
    assert bars >= BARS_MIN


# ---------------------------------------------------------------- through the CLI, as a user would

def _write_mid(tune, path):
    import mido
    mf = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tune.tempo)))
    tr.append(mido.MetaMessage("time_signature", numerator=tune.meter.steps_per_bar // 4, denominator=4))
    ev = []
    for n in tune.notes():
        ev += [(n.start_step * 120, 1, n.pitch, n.velocity), (n.end_step * 120, 0, n.pitch, 0)]
    ev.sort(key=lambda e: (e[0], e[1]))
    now = 0
    for tick, on, p, v in ev:
        tr.append(mido.Message("note_on" if on else "note_off", note=p, velocity=v, time=tick - now))
        now = tick
    mf.save(str(path))


def _read_accompaniment(path, player_channel=0):
    """GridNotes of every channel but the player's, steps counted from the player's first note."""
    import mido
    from liveai.evaluation import GridNote
    mf = mido.MidiFile(str(path))
    step_ticks = mf.ticks_per_beat // 4
    notes, first, on = [], None, {}
    for tr in mf.tracks:
        t = 0
        for m in tr:
            t += m.time
            if m.type == "note_on" and m.velocity > 0:
                if m.channel == player_channel:
                    first = t if first is None else min(first, t)
                else:
                    on[(m.channel, m.note)] = t
            elif m.type in ("note_off", "note_on") and (m.channel, m.note) in on:
                s = on.pop((m.channel, m.note))
                notes.append((m.note, s, t, m.channel))
    first = first or 0
    return [GridNote(p, 80, round((s - first) / step_ticks), max(round((s - first) / step_ticks) + 1,
                                                               round((e - first) / step_ticks)), str(ch))
            for p, s, e, ch in notes]


@pytest.mark.parametrize("name", list(TU.PLAIN_TUNES))
def test_cli_demo_on_plain_tune(name, tmp_path):
    from liveai.cli import main
    tune = TU.PLAIN_TUNES[name]
    _write_mid(tune, tmp_path / "in.mid")
    rc = main(["demo", "--fast", "--input", str(tmp_path / "in.mid"), "--mode", "accompany", "--seed", "1",
               "--out", str(tmp_path / "out.mid")])
    assert rc in (0, None)
    got = _read_accompaniment(tmp_path / "out.mid")
    spb, T = tune.meter.steps_per_bar, tune.total_steps
    got = [n for n in got if n.start < T]
    nic = note_in_chord(got, tune.chord_steps())
    bars = bars_with_notes(got, spb, T // spb)
    drone, _ = _score(TonicDrone(tune.tonic), tune)
    print(f"cli {name}: note-in-chord {nic:.3f} (tonic drone {drone:.3f}), bars with notes {bars:.2f}")
    assert nic >= NOTE_IN_CHORD_MIN
    assert nic >= drone + OVER_DRONE_MIN
    assert bars >= BARS_MIN
