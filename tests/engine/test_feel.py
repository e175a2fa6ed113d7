"""Humanize and swing: off by default, seeded, and never breaking the plan-ahead rule."""
import statistics

from liveai.music.tunes import ODE_TO_JOY, tune_events
from tests.helpers import feed, sim_engine, sounding_after

STEP = 60 / 100 / 4


def run(**kw):
    clock, eng, sink = sim_engine(tempo=100.0, **kw)
    end = feed(clock, eng, tune_events(ODE_TO_JOY.notes()[:24], 100.0))
    clock.call_at(end + 1.0, eng.stop_transport)
    clock.run(until=end + 2.0)
    eng.shutdown()
    return sink


def offsets(sink):
    out = []
    for t, e in sink.events:
        if e.kind == "on":
            k = (t - 1.0) / STEP
            out.append((k - round(k)) * STEP)
    return out


def test_off_by_default_everything_on_the_grid():
    assert all(abs(x) < 1e-9 for x in offsets(run()))


def test_humanize_varies_timing_and_velocity_seeded():
    a = run(humanize_ms=8.0, humanize_velocity=6.0, seed=4)
    b = run(humanize_ms=8.0, humanize_velocity=6.0, seed=4)
    c = run(humanize_ms=8.0, humanize_velocity=6.0, seed=5)
    assert [(t, e) for t, e in a.events] == [(t, e) for t, e in b.events]
    assert [(t, e) for t, e in a.events] != [(t, e) for t, e in c.events]
    off = offsets(a)
    assert 0.003 < statistics.pstdev(off) < 0.015
    assert max(abs(x) for x in off) <= STEP / 2 + 1e-9
    plain = [e.data2 for _, e in run().events if e.kind == "on"]
    human = [e.data2 for _, e in a.events if e.kind == "on"]
    assert plain != human and all(1 <= v <= 127 for v in human)
    assert sounding_after(a) == set()


def test_swing_delays_off_beat_eighths_only():
    sink = run(swing=1.0, swing_unit=2)
    for t, e in sink.events:
        if e.kind != "on":
            continue
        x = (t - 1.0) / STEP
        k = int(x + 1e-6)
        if k % 4 == 2:  # the off-beat 8th: full triplet swing moves it to 2/3 of the beat, 2/3 of a step late
            assert abs(x - k - 2 / 3) < 1e-6
        elif abs(x - round(x)) < 1e-6:
            assert round(x) % 4 != 2
