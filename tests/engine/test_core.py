import mido
import pytest

from liveai.generators.base import HOLD, note
from liveai.music.tunes import ODE_TO_JOY, tune_events
from tests.helpers import feed, sim_engine, sounding_after


def play_tune(**kw):
    clock, eng, sink = sim_engine(tempo=100.0, **kw)
    end = feed(clock, eng, tune_events(ODE_TO_JOY.notes()[:24], 100.0))
    clock.call_at(end + 1.0, eng.stop_transport)
    clock.run(until=end + 2.0)
    eng.shutdown()
    return clock, eng, sink


def test_transport_starts_at_first_note_and_notes_land_on_the_grid():
    clock, eng, sink = play_tune()
    step = 60 / 100 / 4
    ons = [t for t, e in sink.events if e.kind == "on"]
    assert ons, "the engine played nothing"
    for t in ons:
        k = (t - 1.0) / step
        assert abs(k - round(k)) < 1e-9, f"note at {t} is off the grid anchored at the first note"
    assert min(ons) >= 1.0 - 1e-9


def test_with_the_key_set_the_band_comes_in_on_the_first_notes_downbeat():
    """Issue 28: step 0 is planned as the first note arrives, hearing it; in a key set beforehand
    one note names the chord, so the harmony sounds on that downbeat (one melody note alone does
    not: then the drums come in on it and the harmony once a chord is heard)."""
    _, eng, sink = play_tune(key_lock=0)  # Ode to Joy in C
    first = [e for t, e in sink.events if e.kind == "on" and t == pytest.approx(1.0)]
    assert {e.data1 % 12 for e in first if e.part == "bass"} == {0}, first  # C, the tonic
    assert len({e.part for e in first}) >= 3, first
    plain = play_tune()[2]
    assert not [e for t, e in plain.events if e.kind == "on" and t == pytest.approx(1.0)]  # no key, no drums


def test_same_seed_same_music_and_no_note_left_sounding():
    a = play_tune()[2].events
    b = play_tune()[2].events
    assert [(t, e) for t, e in a] == [(t, e) for t, e in b]
    assert sounding_after(play_tune()[2]) == set()


def test_engine_plays_each_part_on_its_channel():
    _, eng, sink = play_tune(channels={"bass": 5, "tenor": 6, "alto": 7})
    chans = {e.part: e.channel for _, e in sink.events if e.kind == "on"}
    assert chans == {"bass": 4, "tenor": 5, "alto": 6}


class Faulty:
    """A generator that raises, returns garbage, or is slow, on chosen steps."""
    name = "faulty"
    voices = ("bass", "tenor", "alto")

    def __init__(self, mode):
        self.mode = mode
        self.observed = []

    def plan(self, ctx):
        if ctx.step % 3 == 0:
            if self.mode == "raise":
                raise RuntimeError("model exploded")
            if self.mode == "garbage":
                return {"bass": note(300, 80)}
        return {"bass": note(40 + ctx.step % 5, 70), "tenor": HOLD, "alto": HOLD}

    def observe(self, ctx, committed):
        self.observed.append(ctx.step)

    def reset(self):
        pass


@pytest.mark.parametrize("mode", ["raise", "garbage", "slow"])
def test_faulty_generator_falls_back_in_time(mode):
    gen = Faulty(mode)
    clock, eng, sink = sim_engine(generator=gen, tempo=100.0)
    if mode == "slow":
        clock.simulated_cost = lambda fn: 1.0  # every job takes a second: all deadlines missed
    end = feed(clock, eng, tune_events(ODE_TO_JOY.notes()[:16], 100.0))
    clock.call_at(end + 1.0, eng.stop_transport)
    clock.run(until=end + 3.0)
    eng.shutdown()
    st = eng.stats
    assert st.fallback_steps > 0 and st.steps > 20
    if mode != "slow":
        assert st.primary_steps > 0
    else:
        assert st.late_steps > 0
    assert sounding_after(sink) == set()
    step = 60 / 100 / 4
    for t, e in sink.events:
        if e.kind == "on":
            k = (t - 1.0) / step
            assert abs(k - round(k)) < 1e-9
    assert not any(e.data1 > 127 for _, e in sink.events)


def test_panic_mode_and_tempo_change_close_notes():
    clock, eng, sink = sim_engine(tempo=100.0)
    end = feed(clock, eng, tune_events(ODE_TO_JOY.notes()[:24], 100.0))
    clock.call_at(3.0, eng.panic)
    clock.call_at(4.0, eng.set_tempo, 130.0)
    clock.call_at(end + 1.0, eng.stop_transport)
    clock.run(until=end + 2.0)
    eng.shutdown()
    # at each of those moments nothing may be left sounding right after the release
    for moment in (3.0, 4.0):
        state = {}
        for t, e in sink.events:
            if t > moment:
                break
            k = (e.channel, e.data1)
            if e.kind == "on":
                state[k] = 1
            elif e.kind == "off":
                state.pop(k, None)
        assert state == {}, f"notes sounding after release at {moment}"
    assert eng.transport.bpm == 130.0
    with pytest.raises(ValueError, match="known modes: accompany"):
        eng.set_mode("polka")


def test_thru_echoes_player_only_when_asked():
    for thru in (False, True):
        clock, eng, sink = sim_engine(tempo=100.0, thru=thru)
        feed(clock, eng, [(0.0, mido.Message("note_on", note=72, velocity=90)),
                          (0.3, mido.Message("note_off", note=72))])
        clock.run(until=2.0)
        eng.shutdown()
        player = [e for _, e in sink.events if e.part == "player"]
        assert bool(player) == thru


def test_the_thru_echo_goes_out_before_the_band_answers_the_note():
    """A struck chord moves the band at once; the player's own note (--thru) still goes first: the
    reactive output never waits for the band's listening."""
    clock, eng, sink = sim_engine(tempo=100.0, thru=True)
    t = 1.0 + 8 * 0.15 + 0.001  # just after step 8 (a 16th is 0.15 s at 100 BPM)
    evs = [(0.0, mido.Message("note_on", note=72, velocity=90)), (1.0, mido.Message("note_off", note=72))]
    evs += [(t - 1.0, mido.Message("note_on", note=p, velocity=90)) for p in (65, 69, 72)]
    evs += [(t, mido.Message("note_off", note=p)) for p in (65, 69, 72)]
    feed(clock, eng, evs)
    clock.run(until=4.0)
    eng.shutdown()
    # at once, but a band note struck on step 8 (1 ms before) sounds at least MIN_SOUND_S (issue 28)
    from liveai.engine.player import MIN_SOUND_S
    at_t = [e for when, e in sink.events if t - 1e-9 <= when <= 1.0 + 8 * 0.15 + MIN_SOUND_S + 1e-9]
    band = [i for i, e in enumerate(at_t) if e.part != "player"]
    echo_last = next(i for i, e in enumerate(at_t) if e.part == "player" and e.kind == "on" and e.data1 == 72)
    assert band, "the chord moved the band at once"
    assert echo_last < band[0], [(e.part, e.kind, e.data1) for e in at_t]
    assert sounding_after(sink) == set()


def test_engine_stops_after_player_silence_and_restarts_at_bar_one():
    clock, eng, sink = sim_engine(tempo=120.0, idle_bars=1.0)
    feed(clock, eng, tune_events(ODE_TO_JOY.notes()[:8], 120.0))
    feed(clock, eng, tune_events(ODE_TO_JOY.notes()[:8], 120.0), start=20.0)
    clock.run(until=30.0)
    assert eng.transport.start_time == pytest.approx(20.0)
    eng.shutdown()
    assert sounding_after(sink) == set()


def test_messages_without_a_channel_pass_the_drum_check():
    """SysEx, song position, tune request and the like have no channel: the drum filter of the
    player's input (issue 12 item 8) only looks at notes, so they are ignored, never a crash."""
    clock, eng, sink = sim_engine(tempo=120.0)
    for msg in (mido.Message("sysex", data=[1, 2, 3]), mido.Message("songpos", pos=4),
                mido.Message("tune_request"), mido.Message("control_change", control=1, value=3)):
        eng.handle_input(msg, 0.0)
    eng.handle_input(mido.Message("note_on", channel=9, note=36, velocity=100), 0.0)  # drums: not heard
    assert not eng.transport.running
    eng.handle_input(mido.Message("note_on", note=60, velocity=100), 0.0)
    assert eng.transport.running  # a player's note still starts the band


def test_drums_in_the_input_do_not_steer_the_band_but_are_recorded(tmp_path):
    """Issue 12 item 8: a drum track (channel 10) is left out of listening and kept in the take."""
    import mido as _mido
    from liveai.app.run import run_simulated
    from liveai.control.config import make_config
    from liveai.music.tunes import ODE_TO_JOY, tune_events
    melody = tune_events(ODE_TO_JOY.notes()[:32], 100.0)
    beat = 0.6
    drums = []
    for i in range(30):  # a kick on every beat (ending before the melody does), off its key
        drums.append((i * beat + 0.01, _mido.Message("note_on", channel=9, note=36 + i % 5, velocity=120)))
        drums.append((i * beat + 0.11, _mido.Message("note_off", channel=9, note=36 + i % 5)))
    both = sorted(melody + drums, key=lambda e: e[0])
    cfg = lambda: make_config(None, {"generator": "rules", "tempo": 100.0})  # noqa: E731
    plain = run_simulated(cfg(), melody)
    with_drums = run_simulated(cfg(), both, str(tmp_path / "take.mid"))
    band = lambda s: [(round(t, 6), e.kind, e.channel, e.data1) for t, e in s.sink.events if e.part != "player"]  # noqa: E731
    assert band(with_drums) == band(plain)
    mf = _mido.MidiFile(tmp_path / "take.mid")
    player = next(t for t in mf.tracks if t.name == "player")
    assert sum(m.type == "note_on" and m.velocity > 0 and m.channel == 9 for m in player) == 30
