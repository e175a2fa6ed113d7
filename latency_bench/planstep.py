"""The whole plan step on real songs: the chord model, the planner and the accompanist's voicing of
one grid step, timed inside the engine as `liveai demo --fast` runs it (the simulated clock runs the
worker inline, so one call of the engine's step planner is all the work of one step).

    python -m latency_bench.planstep [--songs N] [--bars B]

Plays N validation songs of each real source (data/realsongs.npz, melody only) through the demo's
own session and reports the step's median and p99 with the chord model and without it
(`--chord-model none`), measured in the same run: the chord model's share is their difference, and a
machine that stalls shows in both. Issue 23's target: p99 <= 1 ms here.
"""
from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

from latency_bench.common import pct


def _timed(obj, name: str, costs: list[float]) -> None:
    """Time every call of obj.name (an instance attribute shadows the method: the engine calls
    it through the instance) into costs, in microseconds."""
    inner = getattr(obj, name)

    def timed(*args, **kw):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kw)
        finally:
            costs.append(1e6 * (time.perf_counter() - t0))
    setattr(obj, name, timed)


def step_costs(case, chord_model: str | None) -> dict[str, list[float]]:
    """Microseconds of each call of the engine's step planner while one case plays ("step"), and
    of its parts: the chord planner with the chord model ("planner"), the accompanist's voicing
    of the step ("accompanist")."""
    from liveai.app.run import schedule_player
    from liveai.control.config import make_config
    from liveai.app.session import build_session
    from liveai.music.meter import Meter
    from liveai.music.tunes import read_midi
    from liveai.timing.clock import SimClock

    with tempfile.TemporaryDirectory() as tmp:
        part = read_midi(case.write_input(Path(tmp) / "in.mid"))
    o = {"tempo": part.tempo, "start_now": False, "show": False}
    if part.meter:
        o["meter"] = str(part.meter)
    if chord_model is not None:
        o["chord_model"] = chord_model
    cfg = make_config(None, o)
    clock = SimClock()
    session = build_session(cfg, clock, clock, [])
    engine = session.engine
    costs: dict[str, list[float]] = {"step": [], "planner": [], "accompanist": []}
    _timed(engine, "_plan", costs["step"])  # the engine schedules self._plan: the instance's, timed
    _timed(engine.planner, "plan", costs["planner"])
    _timed(engine.primary, "plan", costs["accompanist"])
    bar_s = Meter.parse(cfg.meter).steps_per_bar * 15.0 / cfg.tempo
    end = schedule_player(session, part.events_at(cfg.tempo), 1.0, bar_s)
    clock.call_at(end, engine.stop_transport)
    clock.call_at(end + 0.01, clock.stop)
    gc.collect()
    gc.freeze()  # as the live run does once it is ready (liveai.app.run_realtime)
    try:
        clock.run()
    finally:
        gc.unfreeze()
    engine.shutdown()
    return costs


def measure(songs: int = 3, bars: int = 16) -> dict:
    from liveai.evaluation.realsongs import real_cases
    cases = real_cases(songs, bars)
    if not cases:
        raise SystemExit(f"latency_bench.planstep: no validation song has {bars} bars to play")
    out: dict = {"songs": len(cases), "bars": bars}
    for label, cm in (("with_chord_model", None), ("without_chord_model", "none")):
        costs: dict[str, list[float]] = {}
        for case in cases:
            for part, c in step_costs(case, cm).items():
                costs.setdefault(part, []).extend(c)
        for part, c in costs.items():
            name = "plan_step" if part == "step" else part
            out[f"{name}_{label}_p50_us"] = pct(c, 50)
            out[f"{name}_{label}_p99_us"] = pct(c, 99)
        out[f"plan_step_{label}_n"] = len(costs["step"])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m latency_bench.planstep", description=__doc__.split("\n")[0])
    ap.add_argument("--songs", type=int, default=3, help="validation songs of each source")
    ap.add_argument("--bars", type=int, default=16, help="bars of each song (at least 2)")
    a = ap.parse_args(argv)
    r = measure(a.songs, a.bars)
    for label in ("with_chord_model", "without_chord_model"):
        print(f"{label.replace('_', ' ')} ({r[f'plan_step_{label}_n']} steps):")
        for name, what in (("plan_step", "whole plan step"), ("planner", "  chord planner"),
                           ("accompanist", "  accompanist (voicing)")):
            print(f"  {what:26s} p50 {r[f'{name}_{label}_p50_us']:5.0f} us  p99 {r[f'{name}_{label}_p99_us']:5.0f} us")
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
