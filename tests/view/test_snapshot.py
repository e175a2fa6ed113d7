"""Engine.snapshot, what the live view reads: the planned chord and next chord come from the step
context (the lead's chord planner fills StepContext.chord / next_chord), the rest from the engine."""
from __future__ import annotations

from liveai.timing.clock import SimClock
from liveai.engine.core import Engine, EngineSettings
from liveai.generators.rules import RulesAccompanist
from liveai.music.theory import ChordSymbol
from liveai.io.output import ListOutput
from liveai.io.scheduler import Scheduler
from liveai.music.tunes import ODE_TO_JOY, tune_events


class PlanFollower(RulesAccompanist):
    """The rules voices under another name: the engine's chord planner then plans from the melody
    (the rules generator only takes the chords the player plays), so there is a plan and a next chord."""

    name = "planned"


def _engine(primary: RulesAccompanist | None = None) -> tuple[SimClock, Engine]:
    clock = SimClock()
    eng = Engine(clock, Scheduler(clock, [ListOutput(clock)]), primary or RulesAccompanist(), RulesAccompanist(),
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
    clock, eng = _engine(PlanFollower())
    for t, msg in tune_events(ODE_TO_JOY.notes(), 120.0):
        clock.call_at(0.1 + t, eng.post_input, msg, 0.1 + t)
    seen = []
    for i in range(1, 31):  # every half beat while the tune plays
        clock.run(until=0.1 + 0.25 * i)
        snap, plan = eng.snapshot(), eng.planner.last
        if plan is None or plan.chord is None:
            continue
        # the view shows exactly the planner's latest plan: its chord and the chord planned next
        assert isinstance(plan.chord, ChordSymbol)
        assert snap["chord"] == plan.chord.name
        assert snap["next_chord"] == (plan.next_chord.name if plan.next_chord is not None else "")
        assert snap["chord_source"] == plan.source
        seen.append((snap["chord"], snap["next_chord"]))
    assert len(seen) >= 20, seen  # the planner plans from the first bars on
    assert len({c for c, _ in seen}) >= 2, seen  # the chord moves with the tune ...
    assert any(n and n != c for c, n in seen), seen  # ... and the view announces the next one


def test_the_live_view_lists_the_parts_of_the_style_that_plays(tmp_path):
    """Issue 28: under a pop band the view listed tenor, alto, melody and arp, which pop has not.
    Now the snapshot names the playing style's parts, and a part sounds when any of its voices does."""
    from liveai.band.style import load_style
    from liveai.view.live import render_lines
    from tests.control.test_remote import Rig
    rig = Rig(tmp_path, band="pop")
    try:
        rig.play(16, seconds=4.0)
        snap = rig.engine.snapshot()
        pop = load_style("pop")
        assert set(snap["parts"]) == set(pop.parts) | ({"drums"} if pop.drum_map else set())
        assert not {"tenor", "alto", "melody", "arp"} & set(snap["parts"])
        line = next(ln for ln in render_lines(snap) if ln.startswith("parts"))
        sounding = {v.split(".")[0] for v in snap["playing"]}
        assert sounding and all(f"{p} *" in line for p in sounding), (line, snap["playing"])
    finally:
        rig.close()
    rig = Rig(tmp_path / "b")  # no band: the generator's own voices
    try:
        assert rig.engine.snapshot()["parts"] == list(rig.engine.primary.voices)
    finally:
        rig.close()
