"""In time with the band (the wiring): clock sources the engine follows, MIDI clock out, latency compensation.

Clock sources (`--clock internal|midi|link`):

- internal: the engine's own transport (starts at the player's first note, or `--start-now`).
- midi: MidiClockFollower follows incoming MIDI clock (24 pulses per quarter note, start, stop,
  continue, song position). Each pulse is stamped on arrival; a least-squares line through the
  last beat of pulses (24) gives the period (the tempo) and the fitted time of the newest pulse,
  and the engine's grid is re-anchored there on every pulse (Engine.retime). The pulse count is
  exact, so phase error cannot accumulate (no drift), jitter in arrival times is averaged over a
  beat, and a tempo change has left the window entirely one beat later.
- link: LinkClock follows an Ableton Link session through aalink (the optional `link` extra):
  tempo, beat phase (quantum = the meter's beats), start/stop sync, peers.

Clock out (`--clock-out PORT`): MidiClockOut derives pulses from the transport's beat position
(pulse n is due at the time of beat n / 24; any pulse that is due and was not sent goes at once)
on the sender's clock, never from a sleep loop of its own; Start (or Song Position + Continue
mid-song) when the transport starts, Stop when it stops.

Latency compensation (`--latency midi=MS`): Scheduler.set_latency sends an output its events that
many ms early, so they sound on the beat at a synth that needs that long.

The sender in a process of its own (`--sender process`, ProcessMidiOutput) and every engine thread
on SCHED_FIFO (`--realtime`, realtime_engine): what latency_bench showed a loaded machine needs
(latency_bench/README.md: a real-time thread waiting for the GIL held by a preempted normal one).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from liveai.io.sender import ProcessMidiOutput
from liveai.timing.clock_out import MidiClockOut
from liveai.timing.follow import MidiClockFollower
from liveai.timing.link import LinkClock
from liveai.vocab import check_clock_source, check_latency

log = logging.getLogger(__name__)


def realtime_engine(midi_api: str | None = None) -> bool:
    """--realtime: put the calling (main) thread on SCHED_FIFO before the engine starts its threads,
    so that every thread it starts inherits it, at the engine's priority below the audio server
    (liveai.timing.realtime: never above JACK or PipeWire; normal priority if the server is not real-time).
    latency_bench measured why: with only the sender real-time, a normal-priority engine thread
    holding the GIL can be preempted by other processes for tens of ms while the sender waits for
    it. True if the engine threads now run real-time."""
    from liveai.timing import realtime
    plan = realtime.plan(midi_api=midi_api)
    log.info("thread priorities: sender %d, engine %d (%s)", plan.sender, plan.engine, plan.reason)
    if plan.engine <= 0:  # level with a server that is not real-time, but waking on time
        realtime.punctual_normal_thread()
    return realtime.set_thread_priority(plan.engine, "engine threads") and plan.engine > 0


def attach_sync(session: Any, cfg: Any) -> list[Callable[[], None]]:
    """Wire the clock source, clock out and latency offsets of cfg into a real-time session.
    Returns closers (in order of opening). Call before the clocks start."""
    from liveai.io.midi import MidiInput, MidiOutput, PortSpec
    from liveai.io.osc import OscOutput

    eng, sched = session.engine, session.scheduler
    closers: list[Callable[[], None]] = []
    latency = check_latency(dict(getattr(cfg, "latency", {}) or {}))
    lead = 0.0
    for dev in sched.outputs:
        if isinstance(dev, ProcessMidiOutput):
            dev.wait_ready()
            dev.offset = latency.get("midi", 0.0) / 1000.0
            sched.set_latency(dev, dev.early)
            lead = max(lead, dev.early)
            continue
        if isinstance(dev, OscOutput) and dev.timed:  # bundles: handed over early, timetagged with the due time
            dev.offset = latency.get("osc", 0.0) / 1000.0
            sched.set_latency(dev, dev.early)
            lead = max(lead, dev.early)
            continue
        kind = "midi" if isinstance(dev, MidiOutput) else "osc" if isinstance(dev, OscOutput) else None
        if kind and latency.get(kind):
            sched.set_latency(dev, latency[kind] / 1000.0)
            lead = max(lead, latency[kind] / 1000.0)
    eng.settings.commit_margin += lead  # the model must finish before the earliest send
    if getattr(cfg, "realtime", False):
        from liveai.timing.rtlimits import promote_current_thread
        session.sender.call_soon(promote_current_thread, None, getattr(cfg, "midi_api", None))  # the sender above the engine
    source = check_clock_source(getattr(cfg, "clock", "internal") or "internal")
    if source == "midi":
        follower = MidiClockFollower(eng).attach()
        session.follower = follower
        if getattr(cfg, "clock_in", None):
            inp = MidiInput(PortSpec(cfg.midi_api, cfg.clock_in, False, "clock_in"), eng.post_input)
            closers.append(inp.close)
            log.info("MIDI clock in from %s", inp.name)
        else:
            log.info("MIDI clock in from the player's MIDI input")
    elif source == "link":
        meter_beats = eng.transport.meter.beats * 4 / eng.transport.meter.unit
        link = LinkClock(eng, cfg.tempo, quantum=meter_beats, start_stop_sync=getattr(cfg, "link_start_stop", False))
        link.attach().start()
        session.link = link
        closers.append(link.close)
    if getattr(cfg, "clock_out", None):
        name = cfg.clock_out
        virtual = name == "virtual"
        spec = PortSpec(cfg.midi_api, None if virtual else name, virtual, "clock")
        early = latency.get("clock", 0.0) / 1000.0
        if getattr(cfg, "sender", "process") == "process":  # pulses handed ahead to a sender process
            out = ProcessMidiOutput(spec, record=False)
            out.wait_ready()
            cout = MidiClockOut(session.sender, eng.transport, out.send_raw, early, send_at=out.send_raw_at,
                                ahead=out.lookahead, cancel=out.cancel_pending)
        else:
            out = MidiOutput(spec)
            cout = MidiClockOut(session.sender, eng.transport, out.send_raw, early)
        cout.attach(eng)
        session.clock_out = cout

        def close_clock_out() -> None:
            cout.stop()
            out.close()
        closers.append(close_clock_out)
        log.info("MIDI clock out on %s", out.name)
    return closers
