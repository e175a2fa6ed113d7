"""Shared helpers for tests: run the real engine on the simulated clock."""
from __future__ import annotations

from liveai.timing.clock import SimClock
from liveai.engine.core import Engine, EngineSettings
from liveai.generators.rules import RulesAccompanist
from liveai.io.output import ListOutput
from liveai.io.scheduler import Scheduler
from liveai.music.meter import Meter


def sim_engine(generator=None, fallback=None, **settings):
    clock = SimClock()
    sink = ListOutput(clock)
    sched = Scheduler(clock, [sink])
    fallback = fallback or RulesAccompanist()
    generator = generator or fallback
    eng = Engine(clock, sched, generator, fallback, EngineSettings(**settings))
    return clock, eng, sink


def feed(clock, eng, events, start=1.0):
    """Post player messages at their times, as live input would arrive."""
    for t, msg in events:
        clock.call_at(start + t, lambda m=msg: eng.post_input(m, clock.now()))
    return start + (events[-1][0] if events else 0.0)


def sounding_after(sink):
    """(channel, pitch) still sounding at the end of a sink's events."""
    on = {}
    for _, ev in sink.events:
        k = (ev.channel, ev.data1)
        if ev.kind == "on":
            on[k] = on.get(k, 0) + 1
        elif ev.kind == "off":
            on[k] = on.get(k, 0) - 1
    return {k for k, n in on.items() if n > 0}


def meter(text):
    return Meter.parse(text)
