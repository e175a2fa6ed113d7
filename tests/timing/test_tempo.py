"""Tempo following of free playing: the grid locks to a 10% tempo change within two bars."""
import mido
import pytest

from liveai.timing.tempo import TapTempo, TempoFollower
from liveai.timing.transport import Transport
from tests.helpers import sim_engine


def onsets(bpm_a, bars_a, bpm_b, bars_b, start=1.0):
    t, out = start, []
    for bpm, bars in ((bpm_a, bars_a), (bpm_b, bars_b)):
        for _ in range(bars * 4):
            out.append(t)
            t += 60.0 / bpm
    return out, start + bars_a * 4 * 60.0 / bpm_a


@pytest.mark.parametrize("new_bpm", [110.0, 90.0])
def test_engine_grid_locks_within_two_bars_after_a_ten_percent_change(new_bpm):
    clock, eng, sink = sim_engine(tempo=100.0, follow_tempo=True)
    eng.tempo_follower = TempoFollower()
    times, change = onsets(100.0, 4, new_bpm, 4)
    seen = []
    for t in times:
        clock.call_at(t, eng.post_input, mido.Message("note_on", note=60, velocity=90), t)
        clock.call_at(t + 0.2, eng.post_input, mido.Message("note_off", note=60), t + 0.2)
        clock.call_at(t + 0.25, lambda t=t: seen.append((t, eng.transport.bpm, eng.transport.tick_at(t) / 480)))
    clock.run(until=times[-1] + 0.5)
    eng.shutdown()
    two_bars = change + 8 * 60.0 / new_bpm
    after = [(t, bpm, beat) for t, bpm, beat in seen if t >= two_bars]
    assert after
    for t, bpm, beat in after:
        assert abs(bpm / new_bpm - 1) < 0.02, f"tempo {bpm:.1f} at {t:.2f}"
        phase_ms = abs(beat - round(beat)) * 60000 / new_bpm
        assert phase_ms < 15, f"phase error {phase_ms:.1f} ms"
    print(f"{new_bpm:g} BPM: after two bars tempo {after[0][1]:.1f}, phase error "
          f"{max(abs(b - round(b)) * 60000 / new_bpm for _, _, b in after):.1f} ms")


def test_steady_playing_does_not_drift_the_tempo():
    tr = Transport(120)
    tr.start(0.0)
    f = TempoFollower()
    for i in range(64):
        r = f.onset(i * 0.5, tr)
        if r:
            tr.anchor(r[1], r[2], r[0])
    assert tr.bpm == pytest.approx(120.0, rel=1e-6)


def test_ornaments_off_the_grid_are_ignored():
    tr = Transport(120)
    tr.start(0.0)
    f = TempoFollower()
    assert f.onset(0.37, tr) is None  # between 8ths: ignored
    assert f.last_k is None


def test_tap_tempo():
    tap = TapTempo()
    assert tap.tap(0.0) is None and tap.tap(0.5) is None
    assert tap.tap(1.0) == pytest.approx(120.0)
    assert tap.tap(1.6) == pytest.approx(120.0)  # the median ignores one late tap
    assert tap.tap(10.0) is None  # a long pause starts over


def test_engine_tap_tempo_sets_the_tempo():
    clock, eng, sink = sim_engine(tempo=100.0)
    for i in range(4):
        clock.call_at(1.0 + 0.4 * i, eng.tap, 1.0 + 0.4 * i)
    clock.run(until=3.0)
    assert eng.transport.bpm == pytest.approx(150.0)
