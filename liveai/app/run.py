"""Wiring: build the engine, its clocks, ports and servers from a Config, and run it.

Two ways to run the same engine: `run_realtime` (an engine loop thread, a sender loop thread, rtmidi
and OSC threads feeding them) and `run_simulated` (one SimClock, no threads, as fast as possible).
"""
from __future__ import annotations

import gc
import signal
import logging
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import mido

from liveai.control.addresses import OSC_TABLE
from liveai.control.config import Config
from liveai.control.remote import Control, attach_osc as attach_control
from liveai.app.session import (LIVE_SINK_EVENTS, Session, add_modes, build_session,  # noqa: F401 (the session API)
                                   settings_from)
from liveai.engine.stopping import Stop
from liveai.io.midi import MidiInput, MidiOutput, PortSpec
from liveai.io.osc import OscOutput, OscServer, parse_target
from liveai.io.output import OutputDevice, reset_messages
from liveai.io.recorder import session_filename
from liveai.timing.clock import RealtimeClock, SimClock
from liveai.music.meter import Meter

log = logging.getLogger(__name__)

SENDER_SPIN_S = 0.0015
SENDER_SPIN_RT_S = 0.0003  # on SCHED_FIFO a wake-up is accurate to ~0.1 ms; spinning longer only starves others


def sender_spin() -> float:
    """How long the sender busy-waits before each deadline: short when the process runs real-time
    (a long spin at FIFO priority would starve JACK and the rest of the box), else 1.5 ms."""
    from liveai.timing.realtime import is_realtime
    return SENDER_SPIN_RT_S if is_realtime() else SENDER_SPIN_S
SWITCH_INTERVAL_S = 50e-6  # sys.setswitchinterval: 0.08 ms median lateness of a sleeping sender beside a busy thread at 50 us, 5 ms at the default (latency_bench scheduler_jitter)


def attach_osc(session: Session, server: OscServer, oscquery: bool = True) -> Control:
    """The whole OSC address table bound to the engine (liveai.control.remote), feedback and OSCQuery."""
    return attach_control(session, server, oscquery)


def summary(session: Session, wall: float) -> str:
    """A short report: notes per part, steps, timing."""
    from collections import Counter
    counts = session.sink.notes_on if session.sink else Counter()
    st = session.engine.stats
    lines = [f"played {sum(counts.values())} notes: " + ", ".join(f"{p} {n}" for p, n in sorted(counts.items())),
             f"steps {st.steps} (generator {session.engine.primary.name}: {st.primary_steps}, fallback {st.fallback_steps},"
             f" late {st.late_steps}, errors {st.errors}); wall time {wall:.2f} s"]
    lat = list(session.scheduler.lateness)
    if lat and isinstance(session.sender, RealtimeClock):
        lat_ms = sorted(x * 1000 for x in lat)
        p99 = lat_ms[min(len(lat_ms) - 1, int(0.99 * len(lat_ms)))]
        lines.append(f"sender lateness: median {statistics.median(lat_ms):.3f} ms, p99 {p99:.3f} ms")
    return "\n".join(lines)


def schedule_player(session: Session, events: list[tuple[float, mido.Message]], start: float,
                    tail_s: float) -> float:
    """Play a part into the engine as a player would: each message is posted at its own time,
    through the same input path as live MIDI (nothing is read ahead). Returns the end time: tail_s
    after the last message, less half a 16th, so that a tail of whole bars ends before the next
    downbeat instead of striking it and cutting it at once (a note of no length; issue 28)."""
    clock, eng = session.control, session.engine
    for t, msg in events:
        clock.call_at(start + t, lambda m=msg: eng.post_input(m, clock.now()))
    return start + (events[-1][0] if events else 0.0) + max(0.0, tail_s - 0.5 * eng.transport.step_seconds)


def run_simulated(cfg: Config, events: list[tuple[float, mido.Message]], out: str | None = None) -> Session:
    """The demo on the simulated clock: identical musical output for the same seed, in no time."""
    if out:
        from liveai.io.takes import check_take
        check_take(out)
    clock = SimClock()
    session = build_session(cfg, clock, clock, [], record=bool(out))
    bar_s = Meter.parse(cfg.meter).steps_per_bar * 15.0 / cfg.tempo
    end = schedule_player(session, events, 1.0, bar_s)
    clock.call_at(end, session.engine.stop_transport)
    clock.call_at(end + 0.01, clock.stop)
    stop = Stop()  # Ctrl-C: the simulated clock stops after the event it is on; what was made is kept
    stop.on_signal = clock.stop
    old = None
    if threading.current_thread() is threading.main_thread():
        old = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        stop.install()
    try:
        clock.run()
    finally:
        for sig, h in (old or {}).items():
            signal.signal(sig, h)
    if stop.signals:
        print(f"liveai demo: stopped at {clock.now():.1f} s of the tune", file=sys.stderr, flush=True)
    session.engine.shutdown()
    if out and session.recorder:
        session.recorder.save(out)
    return session


def emergency_off(session: Session) -> None:
    """The third signal's all-notes-off: every note the scheduler knows is sounding off on every
    output, then sustain, all notes and all sound off on all channels; no locks, errors ignored."""
    try:
        sounding = list(session.scheduler.tracker.sounding())
    except Exception:
        sounding = []
    evs = reset_messages(sounding)
    for dev in list(session.scheduler.outputs):
        for ev in evs:
            try:
                dev.send(ev)
            except Exception:
                pass


def reset_output(dev: OutputDevice) -> None:
    """Silence a MIDI output as it opens: sustain off, all notes off (CC123) and all sound off
    (CC120) on all 16 channels. A predecessor killed with SIGKILL (or a crashed other program) may
    have left notes sounding, and which ones is unknown; 48 short messages cover every case with no
    state file, no disk writes while playing and no hot-path cost (144 bytes, 46 ms on DIN MIDI)."""
    try:
        for ev in reset_messages():
            dev.send(ev)
    except Exception as e:
        log.error("could not reset output %s: %s", getattr(dev, "name", dev), e)


def open_realtime(cfg: Config, midi_out: PortSpec | None, record: bool) -> Session:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    control = RealtimeClock(spin=0.0, name="engine")
    # with a sender process this thread only hands events over, 30 ms early: no spin (no CPU taken
    # from the audio server and the sender process at each deadline)
    process = getattr(cfg, "sender", "process") == "process" and midi_out is not None
    sender = RealtimeClock(spin=0.0 if process else sender_spin(), name="sender")
    outputs: list[OutputDevice] = []
    if midi_out is not None and not midi_out.hotplug:  # hot-plug outputs: liveai/app/boxwire.py
        if getattr(cfg, "sender", "process") == "process":  # the sender in a process of its own (liveai/io/sender.py)
            from liveai.io.sender import ProcessMidiOutput
            outputs.append(ProcessMidiOutput(midi_out))
        else:
            outputs.append(MidiOutput(midi_out))
        reset_output(outputs[-1])
    if getattr(cfg, "synth", False):  # FluidSynth in a process of its own, our output wired to it
        from liveai.io.fluidsynth import open_synth
        outputs.append(open_synth(cfg))
        reset_output(outputs[-1])
    if cfg.osc_out:
        outputs.append(OscOutput([parse_target(t) for t in cfg.osc_out], cfg.osc_bundle_latency / 1000.0))
    session = build_session(cfg, control, sender, outputs, record=record, keep_events=LIVE_SINK_EVENTS)
    session.scheduler.direct_now = True  # the reactive path sends from the engine loop (issue 16)
    return session


def how_to_hear(session: Session) -> str:
    """One line under the banner saying how to hear the band (the first-time user's question)."""
    from liveai.io.midi import MidiOutput
    from liveai.io.fluidsynth import SynthOutput
    outs = session.scheduler.outputs
    synth = next((d for d in outs if isinstance(d, SynthOutput)), None)
    if synth is not None:
        return f"liveai: playing into FluidSynth ({synth.audio} audio, {Path(synth.soundfont).name})"
    virtual = [d.name.split(" (virtual)")[0] for d in outs
               if (isinstance(d, MidiOutput) or type(d).__name__ == "ProcessMidiOutput") and "(virtual)" in d.name]
    if virtual:
        return (f"liveai: to hear it, connect {virtual[0]} to a synth (aconnect, jack_connect or your DAW), "
                "or add --synth to start FluidSynth")
    if any(isinstance(d, MidiOutput) or type(d).__name__ in ("HotplugOutput", "ProcessMidiOutput") for d in outs):
        return "liveai: playing to your MIDI output (add --synth to hear it on FluidSynth too)"
    return "liveai: OSC only, no MIDI output: add --synth to hear it on FluidSynth, or play the OSC notes in Pd (patches/)"


def start_view(session: Session, osc_port: int, inp, events) -> "object | None":
    """The terminal live view (--show; on by default for the real-time demo), if stdout is a terminal."""
    from liveai.view.live import LiveView
    cfg = session.cfg
    if not LiveView.wanted(getattr(cfg, "show", False), False):
        return None
    m = Meter.parse(cfg.meter)
    total = None
    if events:
        import math
        span = events[-1][0] - events[0][0]
        total = max(1, math.ceil(span / (m.steps_per_bar * 15.0 / cfg.tempo) - 1e-6)) + 1  # and the closing bar
    outs = [d.name for d in session.scheduler.outputs if d.name not in ("list", "recorder", "osc-out")]
    ports = {"osc": f"in :{osc_port} out {', '.join(cfg.osc_out) or '-'}",
             "midi": f"in {inp.name if inp else '-'} out {', '.join(outs) or '-'}"}
    return LiveView(session.control.call_soon, session.engine.snapshot, ports=ports, total_bars=total,
                    extra={"clock": getattr(cfg, "clock", "internal")}).start()  # parts: the snapshot's


def attach_voice(session: Session, cfg: Config):
    """Sing to play (liveai/singing): the voice's notes enter like a MIDI keyboard's. A missing audio
    library or device is a clear error on stderr and the session plays on without it."""
    if not getattr(cfg, "audio_in", None):
        return None
    try:
        from liveai.singing.audio_in import open_voice
        voice = open_voice(cfg, session.engine.post_input)
    except (RuntimeError, ImportError, OSError, ValueError) as e:
        log.error("voice input off: %s", e)
        print(f"liveai: voice input off: {e}", file=sys.stderr, flush=True)
        return None
    session.closers.append(voice.close)
    print(f"liveai: voice in {voice.name} (tracker {voice.analyzer.settings.tracker})", flush=True)
    return voice


def run_realtime(cfg: Config, midi_in: PortSpec | None, midi_out: PortSpec | None,
                 events: list[tuple[float, mido.Message]] | None = None, out: str | None = None,
                 on_ready: Callable[[Session], None] | None = None, box: bool = False,
                 stop: "Stop | None" = None) -> Session:
    """Play live until SIGINT/SIGTERM (or, with events, until the demo part ends). box: the
    headless box's extras (real-time sender, recordings cap); hot-plug follows PortSpec.hotplug."""
    t_start = time.perf_counter()
    record = bool(out or cfg.record)
    take = None
    if record:  # a bad target is an error now, not a lost take at the end
        from liveai.io.takes import check_folder, check_take, recover
        take = check_take(out if out else session_filename(check_folder(cfg.record)))
        for p in recover(take.parent):
            print(f"liveai: recovered an unfinished take: {p}", flush=True)
    if stop is None:
        stop = Stop()
        if threading.current_thread() is threading.main_thread():
            stop.install()
    session = open_realtime(cfg, midi_out, record)
    stop.panic = lambda: emergency_off(session)
    journal = None
    if take is not None and session.recorder is not None:
        from liveai.io.takes import start_journal
        journal = start_journal(session.recorder, take)
    server = None
    inp = None
    try:
        server = OscServer(cfg.osc_port, cfg.osc_host, allow=getattr(cfg, "osc_allow", None) or None,
                           table=OSC_TABLE)
        control = attach_osc(session, server)
        session.closers.append(control.close)
        def tell_listeners(why: str) -> None:
            for d in {d for ds in control.listeners.values() for d in ds}:
                server.error(d, why)
        for dev in session.scheduler.outputs:  # a synth that dies says so to every OSC listener too
            if hasattr(dev, "on_fault"):
                dev.on_fault = tell_listeners
        if cfg.midi_api == "jack":  # and so does the JACK server (liveai.io.jackwatch)
            from liveai.io.jackwatch import jack_watch
            watch = jack_watch()
            watch.reporters.append(tell_listeners)
            session.closers.append(lambda: watch.reporters.remove(tell_listeners))
        from liveai.app.boxwire import attach_box
        inp = attach_box(session, server, midi_in, midi_out, box, report=tell_listeners)  # hot-plug, /liveai/config/save
        server.start()
        session.closers.append(server.stop)
        if cfg.web or (cfg.web is None and box):  # on by default on the box
            from liveai.control.web import attach_web
            try:
                print(f"liveai: web page {attach_web(control, cfg.web_host, cfg.web_port).url()}", flush=True)
            except RuntimeError as e:  # asked for: an error; the box's default: never a dead box
                if cfg.web:
                    raise
                log.warning("no web page: %s", e)
        if midi_in is not None and inp is None:
            inp = MidiInput(midi_in, session.engine.post_input)
            session.closers.append(inp.close)
        attach_voice(session, cfg)
        from liveai.app.sources import attach_sync
        session.closers.extend(attach_sync(session, cfg))  # clock source, clock out, latency offsets
        session.sender.start_thread()
        session.control.start_thread()
        if cfg.start_now:
            session.control.call_soon(session.engine.start)
        if events is not None:
            bar_s = Meter.parse(cfg.meter).steps_per_bar * 15.0 / cfg.tempo
            end = schedule_player(session, events, time.perf_counter() + 0.2, bar_s)
            session.control.call_at(end, session.engine.stop_transport)
            session.control.call_at(end + 0.2, stop.set)
        gc.collect()
        gc.freeze()  # nothing allocated at start-up is scanned again while playing
        ready = time.perf_counter() - t_start
        print(f"liveai: ready in {ready:.2f} s (generator {session.engine.primary.name}, "
              f"osc port {server.port}, oscquery port {control.oscquery.port if control.oscquery else 'off'}, "
              f"midi in {inp.name if inp else 'none'}, "
              f"midi out {[d.name for d in session.scheduler.outputs]})", flush=True)
        print(how_to_hear(session), flush=True)
        print(f"liveai: takes recorded over OSC go to {control.recordings}", flush=True)
        view = start_view(session, server.port, inp, events)
        if view is not None:
            session.closers.append(view.stop)
        if on_ready:
            on_ready(session)
        while not stop.wait(0.5):
            pass
    finally:
        t0 = time.perf_counter()
        if stop.signals:
            print("liveai: stopping (a second Ctrl-C hurries, a third quits at once)", file=sys.stderr, flush=True)
        session.control.stop()
        session.control.join(0.2 if stop.hurry else 2.0)
        session.sender.stop()
        session.sender.join(0.2 if stop.hurry else 2.0)
        session.engine.shutdown()
        for close in reversed(session.closers):
            try:
                close()
            except Exception as e:
                log.warning("closing: %s", e)
        if take is not None and session.recorder and not session.recorder.has_notes():
            print("liveai: nothing was played: no take written", flush=True)  # not an empty file a stop
            if journal:
                journal.close()
            take = None
        if take is not None and session.recorder:
            from liveai.io.takes import save_take
            try:  # a full disk or a vanished directory: the fallback folder, else the journal stays
                path = save_take(session.recorder, take)
            except (OSError, ValueError) as e:
                log.error("recording not saved: %s%s", e, f" (kept as {journal.path}: the next start recovers it)"
                          if journal else "")
                if journal:
                    journal.close(keep=True)
            else:  # saved somewhere: one truth, so the journal goes whatever else fails now
                if journal:
                    journal.close()
                if path != take:
                    print(f"liveai: could not write {take}; the take was saved to {path}", flush=True)
                print(f"liveai: recorded {path}", flush=True)
                if cfg.record_cap_mb and not out and path.parent == take.parent:
                    from liveai.box.recordings import prune_recordings
                    try:
                        prune_recordings(Path(path).parent, cfg.record_cap_mb, keep=path)
                    except OSError as e:
                        log.warning("recordings cap: %s", e)
        session.scheduler.close()
        log.info("stopped in %.3f s", time.perf_counter() - t0)
        if stop.signals and threading.current_thread() is threading.main_thread():
            # stopped, every note closed: a late signal must not kill the interpreter as it exits
            # (it would report death by SIGINT instead of a clean stop)
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)
    return session
