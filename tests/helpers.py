"""Shared helpers for tests: run the real engine on the simulated clock."""
from __future__ import annotations

from liveai.timing.clock import SimClock
from liveai.engine.core import Engine, EngineSettings
from liveai.generators.rules import RulesAccompanist
from liveai.io.duequeue import DueQueue
from liveai.io.output import ListOutput
from liveai.io.scheduler import Scheduler
from liveai.music.meter import Meter


class AheadOutput:
    """The sender process on the simulated clock: steps handed over `lookahead` early under their
    ids and rewritable until due, in the same DueQueue the process runs (liveai.io.sender), sent to
    a ListOutput at their time. Only the pipe and the clock differ from the stage."""

    name = "ahead"
    timed = True
    amendable = True

    def __init__(self, clock: SimClock, sink: ListOutput, lookahead: float) -> None:
        self.clock, self.sink, self.early = clock, sink, lookahead
        self.queue = DueQueue()
        self.handed = self.rewrites = self.refused = 0

    def hand(self, step, events, when):
        self.handed += 1
        for ev in events:
            self.queue.push(when, step, ev)
        self.clock.call_at(when, self._drain)

    def replace(self, steps):
        ok = self.queue.replace({s: [(when, ev) for ev in evs] for s, evs, when in steps})
        self.rewrites += ok
        self.refused += not ok
        for _, _, when in steps:
            self.clock.call_at(when, self._drain)
        return ok

    def _drain(self):
        now = self.clock.now()
        while (due := self.queue.due()) is not None and due <= now:
            self.sink.send(self.queue.pop()[1])

    def send(self, ev):
        self.sink.send(ev)

    def send_at(self, ev, when):
        self.queue.push(when, 0, ev)
        self.clock.call_at(when, self._drain)

    def cancel_pending(self):
        self.queue.clear()

    def close(self):
        pass


def sim_engine(generator=None, fallback=None, ahead: float | None = None, **settings):
    """The engine on a SimClock into a ListOutput; with `ahead`, through an AheadOutput that takes
    each step that many seconds early (the default `--sender process` on stage)."""
    clock = SimClock()
    sink = ListOutput(clock)
    out = sink if ahead is None else AheadOutput(clock, sink, ahead)
    sched = Scheduler(clock, [out])
    if ahead is not None:
        sched.set_latency(out, ahead)
    fallback = fallback or RulesAccompanist()
    generator = generator or fallback
    eng = Engine(clock, sched, generator, fallback, EngineSettings(**settings))
    if ahead is not None:
        eng.settings.commit_margin += ahead  # as liveai.app.sources.attach_sync does
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


LOG_LINE = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: "


def said_lines(stderr: str) -> list[str]:
    """What a command said on stderr to its user: every line but the log's (timestamped) ones."""
    import re
    return [ln for ln in stderr.splitlines() if ln.strip() and not re.match(LOG_LINE, ln)]
