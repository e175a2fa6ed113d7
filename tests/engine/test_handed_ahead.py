"""Issue 25: steps handed to the sender process ahead of their time (its default on stage) play
exactly what the sender thread plays, corrections included: a chord the melody corrects just before
its step is rewritten in the process's queue, not struck and then fixed.

The simulated runs go through the real engine, Scheduler and DueQueue (tests.helpers.AheadOutput);
only the pipe to the process and the clock are not the stage's."""
import pytest

from liveai.app.run import schedule_player
from liveai.app.session import build_session
from liveai.control.config import make_config
from liveai.evaluation.runner import all_tune_cases
from liveai.io.output import ListOutput
from liveai.music.meter import Meter
from liveai.music.tunes import read_midi
from liveai.timing.clock import SimClock

from tests.helpers import AheadOutput


def _run(inp, band: str, ahead: float | None):
    part = read_midi(inp)
    cfg = make_config(None, {"tempo": part.tempo, "start_now": False, "show": False, "seed": 1, "band": band,
                             "generator": "rules"})
    clock = SimClock()
    wire = ListOutput(clock)
    outputs = [] if ahead is None else [AheadOutput(clock, wire, ahead)]
    session = build_session(cfg, clock, clock, outputs, record=False)
    if ahead is not None:
        session.scheduler.set_latency(outputs[0], ahead)
        session.engine.settings.commit_margin += ahead
    bar_s = Meter.parse(cfg.meter).steps_per_bar * 15.0 / cfg.tempo
    end = schedule_player(session, part.events_at(cfg.tempo), 1.0, bar_s)
    clock.call_at(end, session.engine.stop_transport)
    clock.call_at(end + 0.5, clock.stop)
    clock.run()
    session.engine.shutdown()
    played = [(round(t, 6), e.kind, e.channel, e.data1, e.data2) for t, e in session.sink.events
              if e.part != "player"]
    return played, wire, (outputs[0] if outputs else None)


@pytest.mark.parametrize("band", ["pop", "rock", "ballad"])
def test_handed_ahead_the_band_plays_what_the_sender_thread_plays(tmp_path, band):
    case = all_tune_cases(variants=("melody",))[0]
    inp = case.write_input(tmp_path / "in.mid")
    thread, _, _ = _run(inp, band, None)
    ahead, wire, out = _run(inp, band, 0.030)
    assert len(thread) > 200
    assert ahead == thread
    # what the process sent is what the engine's other outputs and listeners heard at the due time
    sent = [(round(t, 6), e.kind, e.channel, e.data1, e.data2) for t, e in wire.events if e.part != "player"]
    assert sent == ahead
    print(f"\n{band}: {len(ahead)} events; {out.handed} steps handed ahead, {out.rewrites} rewritten there")
    assert out.handed > 100 and out.rewrites > 0 and out.refused == 0, (out.handed, out.rewrites, out.refused)
