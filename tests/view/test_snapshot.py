"""Engine.snapshot, what the live view reads: the planned chord and next chord come from the step
context (the lead's chord planner fills StepContext.chord / next_chord), the rest from the engine."""
from __future__ import annotations

import dataclasses
from typing import Any

from liveai.timing.clock import SimClock
from liveai.engine.core import Engine, EngineSettings
from liveai.generators.base import StepContext
from liveai.generators.rules import RulesAccompanist
from liveai.harmony.chords import ChordSymbol
from liveai.io.output import ListOutput
from liveai.io.scheduler import Scheduler
from liveai.music.tunes import ODE_TO_JOY, tune_events


@dataclasses.dataclass(frozen=True)
class PlannedContext(StepContext):
    """A StepContext as the chord planner makes it (until its fields land in the base class)."""

    chord: Any = None
    next_chord: Any = None


def _engine() -> tuple[SimClock, Engine]:
    clock = SimClock()
    eng = Engine(clock, Scheduler(clock, [ListOutput(clock)]), RulesAccompanist(), RulesAccompanist(),
                 EngineSettings(tempo=120.0))
    return clock, eng


def _play(clock: SimClock, eng: Engine, seconds: float) -> None:
    for t, msg in tune_events(ODE_TO_JOY.notes()[:12], 120.0):
        clock.call_at(0.1 + t, eng.post_input, msg, 0.1 + t)
    clock.run(until=seconds)


def test_snapshot_without_a_planner_shows_the_heard_chord_and_no_next():
    clock, eng = _engine()
    _play(clock, eng, 3.0)
    snap = eng.snapshot()
    assert snap["running"] and snap["bar"] >= 2 and snap["chord"] == eng.status()["chord"] != ""
    assert snap["next_chord"] == ""  # the view draws "-"
    assert set(snap["playing"]) <= {"bass", "tenor", "alto"} and snap["playing"]
    assert snap["steps"] == eng.stats.steps > 0 and snap["fallback_steps"] == eng.stats.fallback_steps
    assert snap["follow"] == "fixed"


def test_snapshot_takes_the_planned_chord_and_next_chord():
    clock, eng = _engine()
    plain = eng.context

    def planned(step: int) -> StepContext:
        ctx = plain(step)
        bar = step // ctx.steps_per_bar
        return PlannedContext(**{f.name: getattr(ctx, f.name) for f in dataclasses.fields(StepContext)},
                              chord=ChordSymbol(2 if bar % 2 == 0 else 9, "maj"),
                              next_chord=ChordSymbol(9 if bar % 2 == 0 else 2, "7" if bar % 2 == 0 else "maj"))
    eng.context = planned  # type: ignore[method-assign]
    _play(clock, eng, 2.5)
    snap = eng.snapshot()
    bar = (eng._committed_step) // 16
    assert (snap["chord"], snap["next_chord"]) == (("D", "A7") if bar % 2 == 0 else ("A", "D"))
