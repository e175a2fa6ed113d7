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


def hanging_notes(msgs) -> set[tuple[int, int]]:
    """(channel, pitch) left on in raw MIDI (time, bytes) pairs: a note-on with no note-off (or
    CC123/CC120 on its channel) after it."""
    on: set[tuple[int, int]] = set()
    for _, m in msgs:
        kind, ch = m[0] & 0xF0, m[0] & 0x0F
        if kind == 0x90 and m[2] > 0:
            on.add((ch, m[1]))
        elif kind in (0x80, 0x90):
            on.discard((ch, m[1]))
        elif kind == 0xB0 and m[1] in (120, 123):
            on = {k for k in on if k[0] != ch}
    return on
