"""The band through the real engine on the simulated clock (`liveai demo --fast`): every built-in
style on a 4/4 and a 3/4 tune with nothing left hanging, and its rhythm measured on the .mid it
writes. Pitches: every pitched note is a tone of the chord it was played over (approach notes a
step from the next chord's root)."""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from liveai.app.run import run_simulated
from liveai.band import BandGenerator, builtin_names, load_style
from liveai.cli import main as cli_main
from liveai.control.config import make_config
from liveai.music.tunes import BUILTIN, SILENT_NIGHT_F, tune_events
from tests.band.midi_facts import read

STYLES = builtin_names()
TOMS = {41, 43, 45, 47, 48, 50}


def play(band: str, tune, out: Path):
    """One demo --fast run in process (the CLI's own path); the session and the .mid's facts."""
    cfg = make_config(None, {"band": band, "generator": "rules", "tempo": tune.tempo, "meter": str(tune.meter)})
    session = run_simulated(cfg, tune_events(tune.notes(), tune.tempo), str(out))
    return session, read(str(out))


def balanced(session) -> list:
    """(channel, pitch) whose note-ons outnumber their note-offs in what went out."""
    n: Counter = Counter()
    for _, ev in session.sink.events:
        if ev.kind == "on":
            n[(ev.channel, ev.data1)] += 1
        elif ev.kind == "off":
            n[(ev.channel, ev.data1)] -= 1
    return [k for k, v in n.items() if v > 0]


@pytest.mark.parametrize("band", STYLES)
@pytest.mark.parametrize("tune", [BUILTIN, SILENT_NIGHT_F], ids=["4-4", "3-4"])
def test_every_style_plays_both_meters_with_nothing_hanging(band, tune, tmp_path):
    session, (onsets, _, beats, _) = play(band, tune, tmp_path / "o.mid")
    assert beats == tune.meter.beats
    assert not balanced(session) and not session.scheduler.tracker.sounding()
    tracks = Counter(o.track for o in onsets if o.track != "player")
    style = load_style(band)
    if style.chorale:
        assert set(tracks) == {"bass", "tenor", "alto"}
        return
    assert tracks["bass"] > 20 and (tracks["comp"] + tracks["arp"] + tracks["pad"]) > 20, tracks
    if band != "duo":
        assert tracks["drums"] > 40
        assert all(o.channel == 9 for o in onsets if o.track == "drums")  # channel 10
    else:
        assert "drums" not in tracks


def test_the_demo_command_writes_the_band(tmp_path, waltz_tune):
    out = tmp_path / "b.mid"
    assert cli_main(["demo", "--fast", "--generator", "rules", "--band", "waltz", "--input", str(waltz_tune),
                     "--out", str(out)]) == 0
    onsets, _, beats, hanging = read(str(out))
    assert beats == 3 and {"bass", "comp", "drums"} <= {o.track for o in onsets}


def bars_of(onsets, track, pitches=None):
    bars = defaultdict(list)
    for o in onsets:
        if o.track == track and (pitches is None or o.pitch in pitches):
            bars[o.bar].append(o.beat)
    return bars


def inner(onsets) -> range:
    """The bars the band plays whole: from the second to the last but one."""
    last = max(o.bar for o in onsets if o.track == "player")
    return range(1, last)


def test_walking_bass_in_swing_plays_one_note_per_beat(tmp_path):
    _, (onsets, _, beats, _) = play("swing", BUILTIN, tmp_path / "s.mid")
    bass = bars_of(onsets, "bass")
    bars = inner(onsets)
    good = [b for b in bars if sorted(round(x, 3) for x in bass[b]) == [float(i) for i in range(beats)]]
    assert len(good) >= 0.9 * len(bars), {b: bass[b] for b in bars if b not in good}


def test_swung_8ths_off_beat_delay_matches_the_style_ratio(tmp_path):
    _, (onsets, _, _, _) = play("swing", BUILTIN, tmp_path / "s.mid")
    ratio = load_style("swing").swing
    offs = [o.beat % 1 for o in onsets if o.track == "drums" and o.pitch == 51 and o.beat % 1 > 0.01]
    assert len(offs) > 20
    for f in offs:
        assert abs(f / (1 - f) - ratio) <= 0.1 * ratio, f


def test_straight_styles_do_not_swing(tmp_path):
    _, (onsets, _, _, _) = play("pop", BUILTIN, tmp_path / "p.mid")
    assert {round(o.beat % 1, 3) for o in onsets if o.track == "drums"} <= {0.0, 0.25, 0.5, 0.75}


def test_waltz_bass_on_one_and_comp_on_two_and_three(tmp_path):
    _, (onsets, _, beats, _) = play("waltz", SILENT_NIGHT_F, tmp_path / "w.mid")
    assert beats == 3
    bass, comp = bars_of(onsets, "bass"), bars_of(onsets, "comp")
    bars = inner(onsets)
    assert sum(0.0 in bass[b] for b in bars) >= 0.9 * len(bars)
    assert sum({1.0, 2.0} <= set(comp[b]) and 0.0 not in comp[b] for b in bars) >= 0.9 * len(bars)


@pytest.mark.parametrize("band", ["pop", "rock"])
def test_kick_on_one_snare_on_two_and_four_in_the_main_variation(band, tmp_path):
    session, (onsets, _, _, _) = play(band, BUILTIN, tmp_path / "k.mid")
    main = {bar for bar, kind, name in session.engine.band.log if kind == "main" and name == "main"}
    main -= {bar for bar, kind, _ in session.engine.band.log if kind != "main"}
    assert len(main) >= 8, session.engine.band.log
    kick, snare = bars_of(onsets, "drums", {36}), bars_of(onsets, "drums", {38})
    for b in main:
        assert 0.0 in kick[b] and {1.0, 3.0} <= set(snare[b]), (b, kick[b], snare[b])


@pytest.mark.parametrize("band", [s for s in STYLES if s not in ("chorale", "duo")])
@pytest.mark.parametrize("tune", [BUILTIN, SILENT_NIGHT_F], ids=["4-4", "3-4"])
def test_fills_only_at_phrase_ends_and_a_crash_after(band, tune, tmp_path):
    session, (onsets, _, _, _) = play(band, tune, tmp_path / "f.mid")
    band_gen = session.engine.band
    style, _ = band_gen._style_for(tune.meter.steps_per_bar)
    fills = {bar for bar, kind, _ in band_gen.log if kind == "fill"}
    assert fills, band_gen.log  # the demo tunes have long notes at their phrase ends
    for bar in fills:
        assert (bar + 1) % style.phrase_bars == 0, (bar, band_gen.log)
    toms = {o.bar for o in onsets if o.track == "drums" and o.pitch in TOMS}
    assert toms <= fills
    crashes = {o.bar for o in onsets if o.track == "drums" and o.pitch == 49 and o.beat == 0.0}
    last = max(o.bar for o in onsets)
    assert {b + 1 for b in fills if b + 1 < last} <= crashes


class Recording(BandGenerator):
    """The band, noting the chord under every note it plays."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.played: list[tuple[str, int, tuple[int, ...], int | None]] = []

    def plan(self, ctx):
        plan = super().plan(ctx)
        for v, act in plan.items():
            if act.kind == "note" and not v.startswith("drums.") and self.chord is not None:
                nxt = getattr(ctx, "next_chord", None) or self.chord
                self.played.append((v, act.pitch, self.chord.pcs, nxt.root))
        return plan


@pytest.mark.parametrize("band", [s for s in STYLES if s != "chorale"])
def test_every_pitched_note_is_a_chord_tone(band):
    from liveai.app.run import build_session
    from liveai.app.run import schedule_player
    from liveai.timing.clock import SimClock
    cfg = make_config(None, {"generator": "rules", "tempo": BUILTIN.tempo, "meter": "4/4"})
    clock = SimClock()
    session = build_session(cfg, clock, clock, [])
    gen = Recording(load_style(band))
    session.engine.set_band(gen)
    end = schedule_player(session, tune_events(BUILTIN.notes(), BUILTIN.tempo), 1.0, 2.4)
    clock.call_at(end, session.engine.stop_transport)
    clock.call_at(end + 0.01, clock.stop)
    clock.run()
    assert len(gen.played) > 50
    for v, pitch, pcs, next_root in gen.played:
        if pitch % 12 in pcs:
            continue
        step = min((pitch - next_root) % 12, (next_root - pitch) % 12)
        assert v == "bass" and step in (1, 2), (band, v, pitch, pcs)


def test_a_user_style_file_from_the_readme_plays(tmp_path, waltz_tune):
    from tests.band.test_style import readme_style
    p = tmp_path / "my-band.toml"
    p.write_text(readme_style())
    for args in ([], ["--input", str(waltz_tune)]):
        out = tmp_path / "u.mid"
        assert cli_main(["demo", "--fast", "--generator", "rules", "--band", str(p), "--out", str(out), *args]) == 0
        onsets, _, _, _ = read(str(out))
        assert {"bass", "comp", "drums"} <= {o.track for o in onsets}


def test_a_malformed_band_file_is_a_clear_cli_error(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text('meters = ["4/4"]\n[parts.bass]\nrange = [28, 52]\n[variations.a]\nbass = { "4/4" = "R--" }\n'
                 '[variations.b]\nbass = { "4/4" = "R-------" }\n')
    assert cli_main(["demo", "--fast", "--band", str(p)]) == 2
    err = capsys.readouterr().err
    assert "style 'bad': variations.a.bass[4/4] (line 5): has 3 cells" in err


def test_the_model_keeps_listening_while_a_band_plays():
    """With the model as the accompany generator, a band style takes over the sound but the model's
    network keeps stepping unheard, so the chord planner keeps its neural guess (the band plans with
    the same ears as the chorale style); nothing of the model's own voices sounds."""
    from liveai.app.run import build_session
    from liveai.app.run import schedule_player
    from liveai.timing.clock import SimClock
    cfg = make_config(None, {"generator": "model", "tempo": BUILTIN.tempo, "meter": "4/4"})
    clock = SimClock()
    session = build_session(cfg, clock, clock, [])
    eng = session.engine
    model = eng.primary
    assert model.name == "model"
    band = Recording(load_style("pop"))
    eng.set_band(band)
    guesses = []
    eng.planner.listener = lambda: guesses.append(eng._listener_guess()) or guesses[-1]
    end = schedule_player(session, tune_events(BUILTIN.notes(), BUILTIN.tempo), 1.0, 2.4)
    clock.call_at(end, eng.stop_transport)
    clock.call_at(end + 0.01, clock.stop)
    clock.run()
    assert len(band.played) > 50  # the band played
    heard = [g for g in guesses if g is not None]
    assert len(heard) > 20 and all(len(g) == 12 for g in heard)  # the planner had the model's guess
    assert model._t > 100  # the network stepped through the performance
    assert set(eng.voices) == set(band.voices)  # and only the band's parts sound
