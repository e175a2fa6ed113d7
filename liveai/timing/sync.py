"""In time with the band: clock sources the engine follows, MIDI clock out, latency compensation.

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
import math
import os
import struct
import threading
import time
from collections import deque
from typing import Any, Callable

import mido

from liveai.timing.clock import Clock, Timer
from liveai.timing.transport import TICKS_PER_BEAT, Transport
from liveai.vocab import check_clock_source, check_latency, clamp_tempo

log = logging.getLogger(__name__)

PPQ = 24  # MIDI clock pulses per quarter note
PULSE_TICKS = TICKS_PER_BEAT // PPQ
PULSES_PER_STEP = PPQ // 4  # the engine's grid is the 16th note
CHANGE_PULSES = 3  # pulses in a row off the fitted line, drifting away from it: a tempo change
CLOCK, START, CONTINUE, STOP, SONGPOS = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2


def line_fit(points: deque[tuple[int, float]] | list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares t = a + b * n through (n, t) points: (b, fitted t of the last n)."""
    m = len(points)
    n0, t0 = points[0]
    sx = sy = sxx = sxy = 0.0
    for n, t in points:  # relative to the first point, for precision
        x, y = n - n0, t - t0
        sx += x
        sy += y
        sxx += x * x
        sxy += x * y
    den = m * sxx - sx * sx
    b = (m * sxy - sx * sy) / den
    a = (sy - b * sx) / m
    return b, t0 + a + b * (points[-1][0] - n0)


class MidiClockFollower:
    """Makes an Engine follow incoming MIDI clock (attach() registers it in Engine.sync_handlers).

    Handlers run on the engine's loop; t is each message's arrival time on the engine's clock.
    """

    def __init__(self, engine: Any, window: int = PPQ, timeout_beats: float = 4.0) -> None:
        self.engine = engine
        self.window = window
        self.timeout_beats = timeout_beats
        self.points: deque[tuple[int, float]] = deque(maxlen=window)
        self.count = 0  # pulses received, ever (the fit's x axis: never reset by start or song position)
        self.position = 0  # song position, in pulses, of the next pulse while playing
        self.playing = False
        self.bpm: float | None = None
        self._armed = False
        self._watchdog: Timer | None = None
        self._last_beat_pulse = 0
        self._line: tuple[int, float, float] | None = None  # (pulse, fitted time, period) of the last fit
        self._held: list[tuple[int, float, float]] = []  # (pulse, time, residual) off the line, in a row
        self.changes = 0  # tempo changes detected

    def attach(self) -> "MidiClockFollower":
        self.engine.settings.external_clock = True
        self.engine.sync_handlers.append(self.handle)
        return self

    def handle(self, msg: mido.Message, t: float) -> None:
        kind = msg.type
        if kind == "clock":
            self._pulse(t)
        elif kind == "start":
            self.position = 0
            self._armed = True  # MIDI: the first pulse after Start is the downbeat
        elif kind == "continue":
            self._armed = True
        elif kind == "stop":
            self._armed = False
            self._stop("stop")
        elif kind == "songpos":
            if not self.playing:
                self.position = int(msg.pos) * PULSES_PER_STEP  # song position counts 16ths

    @property
    def period(self) -> float | None:
        return None if self.bpm is None else 60.0 / (self.bpm * PPQ)

    def _stop(self, why: str) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.playing:
            self.playing = False
            log.info("MIDI clock: %s", why)
            self.engine.stop_transport()

    def _pulse(self, t: float) -> None:
        self.count += 1
        pts = self.points
        if pts and self.bpm is not None and t - pts[-1][1] > 8 * self.period:
            pts.clear()  # the clock paused: fit afresh
            self._held.clear()
            self._line = None
        on_line = self._classify(self.count, t)
        anchor = t
        if on_line and len(pts) >= 3:
            period, anchor = line_fit(pts)
            if period > 0:
                self.bpm = clamp_tempo(60.0 / (period * PPQ))
                self._line = (self.count, anchor, period)
        eng = self.engine
        if self._armed:
            self._armed = False
            self.playing = True
            step = self.position / PULSES_PER_STEP
            if self.bpm is not None:
                eng.transport.bpm = self.bpm
            eng.start(t, step=step)  # this pulse is exactly here: it starts the song
            self.position += 1
            self._last_beat_pulse = self.count
            self._arm_watchdog(t)
            return
        if not self.playing:
            return
        pos = self.position
        self.position += 1
        if on_line and self.bpm is not None and len(pts) >= 3:
            eng.retime(self.bpm, pos / PULSES_PER_STEP, anchor)
        if self.count - self._last_beat_pulse >= PPQ:
            self._last_beat_pulse = self.count
            self._arm_watchdog(t)

    def predicted(self, n: int) -> float | None:
        """Where the fitted line puts pulse n (None before there is a line)."""
        if self._line is None:
            return None
        n0, t0, period = self._line
        return t0 + period * (n - n0)

    def _classify(self, n: int, t: float) -> bool:
        """Is pulse n at t on the fitted line (True: it joins the fit)?

        A pulse off the line by more than arrival noise (1.5 ms or 6% of a pulse) is held out of
        the fit: on a busy machine or a jittery USB cable one or two pulses come late (a stall
        delays every pulse due during it, so their lateness shrinks pulse by pulse), and fitting
        them would bend the tempo for a beat. A tempo change looks different: CHANGE_PULSES in a
        row off the line on the same side, the gap not shrinking by more than a quarter pulse.
        Then the fit keeps only the pulses since the change (and the one before it, where the
        new tempo began), so it follows at once instead of averaging the old tempo in."""
        pts, held = self.points, self._held
        expect = self.predicted(n)
        if expect is None or self.period is None:
            pts.append((n, t))
            return True
        r = t - expect
        period = self.period
        if abs(r) <= max(0.0015, 0.06 * period):
            held.clear()
            pts.append((n, t))
            return True
        if held and (held[-1][2] * r < 0 or abs(r) < abs(held[-1][2]) - 0.25 * period):
            held.clear()  # not the same way, or shrinking: a stall catching up, not a new tempo
        held.append((n, t, r))
        if len(held) < CHANGE_PULSES:
            return False
        while len(pts) > 1:  # the last pulse on the old line: where the new tempo began
            pts.popleft()
        pts.extend((m, tm) for m, tm, _ in held)
        held.clear()
        self.changes += 1
        return True

    def _arm_watchdog(self, t: float) -> None:
        """If pulses stop coming without a Stop (a cable pulled), stop after timeout_beats."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        beat = 60.0 / (self.bpm or self.engine.transport.bpm)
        self._watchdog = self.engine.clock.call_at(t + self.timeout_beats * beat + 0.5, self._stop,
                                                   "no clock pulses: stopped")


class MidiClockOut:
    """MIDI clock out, derived from the transport's beat position on the sender's clock.

    Pulse n is due at transport.time_of_tick(n * PULSE_TICKS) - early. Each wake sends every pulse
    that is due (so a late wake sends the missed ones, at most max_catchup at once) and sets the
    next wake at the next pulse's time, recomputed from the transport (so tempo changes and
    external-clock re-anchoring carry through). `send` takes a list of MIDI bytes.

    With send_at (the sender process, ProcessMidiOutput.send_raw_at), each wake instead hands over
    every pulse due within the next `ahead` seconds with its due time, and the sender process sends
    it then; `cancel` drops what it holds when the transport stops, before Stop goes out.
    """

    def __init__(self, clock: Clock, transport: Transport, send: Callable[[list[int]], None],
                 early: float = 0.0, max_catchup: int = PPQ,
                 send_at: Callable[[list[int], float], None] | None = None, ahead: float = 0.0,
                 cancel: Callable[[], None] | None = None) -> None:
        self.clock = clock
        self.transport = transport
        self.send = send
        self.early = early
        self.max_catchup = max_catchup
        self.send_at = send_at
        self.ahead = ahead if send_at is not None else 0.0
        self.cancel = cancel
        self.next = 0  # index of the next pulse to send
        self.running = False
        self.sent = 0
        self.skipped = 0
        self._timer: Timer | None = None

    def attach(self, engine: Any) -> "MidiClockOut":
        engine.on_transport.append(self.transport_changed)
        return self

    def transport_changed(self, running: bool, t: float) -> None:
        """Engine.on_transport hook (any thread): start or stop on the sender's clock."""
        self.clock.call_soon(self._begin if running else self._end)

    def _begin(self) -> None:
        tr = self.transport
        if self._timer is not None:
            self._timer.cancel()
        n0 = max(0, round(tr.tick_at(tr.start_time) / PULSE_TICKS))
        if n0 == 0:
            self._out([START], self._due(0))
        else:  # mid-song: Song Position (in 16ths) then Continue
            spp = min(0x3FFF, math.ceil(n0 / PULSES_PER_STEP))
            n0 = spp * PULSES_PER_STEP
            self._out([SONGPOS, spp & 0x7F, (spp >> 7) & 0x7F], self._due(n0))
            self._out([CONTINUE], self._due(n0))
        self.next = n0
        self.running = True
        self._tick()

    def _end(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.running:
            self.running = False
            if self.cancel is not None:
                self.cancel()  # pulses handed ahead to the sender process must not follow Stop
            self._out([STOP])

    def stop(self) -> None:
        """On shutdown (sender loop stopped): Stop if running."""
        self._end()

    def _tick(self) -> None:
        if not self.running:
            return
        tr = self.transport
        now = self.clock.now()
        due = math.floor(tr.tick_at(now + self.early + self.ahead) / PULSE_TICKS + 1e-6)
        missed = math.floor(tr.tick_at(now + self.early) / PULSE_TICKS + 1e-6)
        if missed - self.next >= self.max_catchup:
            self.skipped += missed - self.next - self.max_catchup + 1
            self.next = missed - self.max_catchup + 1
        while self.next <= due:
            self._out([CLOCK], self._due(self.next))
            self.sent += 1
            self.next += 1
        self._timer = self.clock.call_at(self._due(self.next) - self.ahead, self._tick)

    def _due(self, n: int) -> float:
        """When pulse n must leave (latency compensation included)."""
        return self.transport.time_of_tick(n * PULSE_TICKS) - self.early

    def _out(self, data: list[int], when: float | None = None) -> None:
        try:
            if self.send_at is not None and when is not None:
                self.send_at(data, when)
            else:
                self.send(data)
        except Exception as e:  # a vanished port must not stop the sender
            log.error("MIDI clock out failed: %s", e)


class LinkClock:
    """Follows an Ableton Link session (aalink, asyncio in a thread of its own).

    Every `period` s it reads the session's beat (quantum = `quantum` beats), tempo and play state,
    stamped with perf_counter around the read, and re-anchors the engine's grid on the engine's
    loop: step = beat * 4. With start_stop_sync the transport follows the session's play state;
    without it the engine starts at once, in phase. Link is enabled ~0.5 s after it is created
    (field notes section 6), so that a new peer does not take over the session's tempo.
    """

    def __init__(self, engine: Any, bpm: float, quantum: float = 4.0, start_stop_sync: bool = False,
                 period: float = 0.02, enable_delay: float = 0.5) -> None:
        try:
            import aalink  # noqa: F401
        except ImportError:
            raise RuntimeError("--clock link needs aalink: pip install 'liveai[link]'") from None
        self.engine = engine
        self.bpm = bpm
        self.quantum = quantum
        self.start_stop_sync = start_stop_sync
        self.period = period
        self.enable_delay = enable_delay
        self.link: Any = None
        self.peers = 0
        self.updates = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self) -> "LinkClock":
        self.engine.settings.external_clock = True
        return self

    def start(self) -> "LinkClock":
        self._thread = threading.Thread(target=self._run, name="link", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _run(self) -> None:
        import asyncio
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("Link thread failed")
            self._ready.set()

    async def _main(self) -> None:
        import asyncio
        import warnings

        import aalink
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            link = aalink.Link(self.bpm)
        link.quantum = self.quantum
        self.link = link
        await asyncio.sleep(self.enable_delay)
        link.enabled = True
        link.start_stop_sync_enabled = self.start_stop_sync
        self._ready.set()
        perf = time.perf_counter
        post = self.engine.clock.call_soon
        while not self._stop.is_set():
            a = perf()
            beat = link.beat
            b = perf()
            if b - a < 0.0005:  # a read that was not interrupted: the pair is exact to < 0.5 ms
                self.updates += 1
                self.peers = max(self.peers, link.num_peers)
                post(self._update, float(link.tempo), float(beat), 0.5 * (a + b), bool(link.playing))
            await asyncio.sleep(self.period)
        link.enabled = False

    def set_tempo(self, bpm: float) -> None:
        """Propose a tempo to the session (from the link thread's side: aalink is thread-safe)."""
        if self.link is not None:
            self.link.tempo = bpm

    def _update(self, tempo: float, beat: float, t: float, playing: bool) -> None:
        eng = self.engine
        want = playing if self.start_stop_sync else True
        tempo = clamp_tempo(tempo)
        step = beat * 4.0
        if want and not eng.running:
            eng.transport.bpm = tempo
            eng.start(t, step=step)
            eng.retime(tempo, step, t)
        elif not want and eng.running:
            eng.stop_transport()
        elif eng.running:
            eng.retime(tempo, step, t)


ENGINE_PRIORITY = 50  # every engine thread with --realtime but OSC input (osc_io); the sender 70 (box.rt), JACK above


def realtime_engine(priority: int = ENGINE_PRIORITY) -> bool:
    """--realtime: put the calling (main) thread on SCHED_FIFO before the engine starts its threads,
    so that every thread it starts inherits it. latency_bench measured why: with only the sender
    real-time, a normal-priority engine thread holding the GIL can be preempted by other processes
    for tens of ms while the sender waits for it. True if it worked."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        log.info("engine threads: SCHED_FIFO priority %d", priority)
        return True
    except (OSError, AttributeError) as e:
        log.warning("--realtime: real-time scheduling not allowed (%s); running at normal priority", e)
        return False


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
        kind = "midi" if isinstance(dev, MidiOutput) else "osc" if isinstance(dev, OscOutput) else None
        if kind and latency.get(kind):
            sched.set_latency(dev, latency[kind] / 1000.0)
            lead = max(lead, latency[kind] / 1000.0)
    eng.settings.commit_margin += lead  # the model must finish before the earliest send
    if getattr(cfg, "realtime", False):
        from liveai.box.rt import promote_current_thread
        session.sender.call_soon(promote_current_thread)  # the sender above the rest (FIFO 70)
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
        if getattr(cfg, "sender", "thread") == "process":  # pulses handed ahead to a sender process
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


# --------------------------------------------------------------------------- the sender in a process of its own

_REC = struct.Struct("<dB3s")  # due time (perf_counter s; < 0: at once), length, up to 3 MIDI bytes
_FLUSH, _QUIT = 0xFF, 0xFE
SENDER_LOOKAHEAD_S = 0.030
SENDER_SPIN_S = 0.0015
STATS_MAX = 200_000  # lateness records a sender process keeps for latency_bench (about 20 MB at most)


class ProcessMidiOutput:
    """A MIDI output whose port lives in a small sender process of its own (`--sender process`).

    Why: in one Python process the sender thread needs the GIL to send, and any other thread
    holding it (the engine loop, OSC parsing, rtmidi callbacks, the model's numpy glue) delays it;
    on a loaded machine a normal-priority holder can be preempted for tens of milliseconds while a
    real-time sender waits (priority inversion through the GIL; measured by latency_bench). The
    sender process has one Python thread and nothing else to do: the Scheduler hands it each event
    SENDER_LOOKAHEAD_S early (a latency offset, Scheduler.set_latency) with its due time, and it
    sleeps, spins the last 1.5 ms and sends at that time, on SCHED_FIFO where allowed. Immediate
    events (the reactive path, panic) go at once; cancel_pending() drops what is queued there.
    """

    timed = True

    def __init__(self, spec: Any, offset: float = 0.0, lookahead: float = SENDER_LOOKAHEAD_S, rt: bool = True,
                 stats: str | None = None, record: bool = True) -> None:
        import subprocess
        import sys
        if record:
            stats = stats or os.environ.get("LIVEAI_SENDER_STATS")  # latency_bench: the sender's lateness record
        self.offset = offset  # latency compensation of this output (s early)
        self.lookahead = lookahead
        args = [sys.executable, "-m", "liveai.timing.sync", "--api", spec.api, "--port-name", spec.port_name]
        if spec.virtual or spec.name is None:
            args.append("--virtual")
        else:
            args += ["--connect", spec.name]
        if rt and os.environ.get("LIVEAI_SENDER_RT", "1") != "0":
            args.append("--rt")
        if stats:
            args += ["--stats", stats]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.name = "MIDI sender process (starting)"
        self._fd = self.proc.stdin.fileno()
        self._lock = threading.Lock()
        self._ready = False

    def wait_ready(self, timeout: float = 20.0) -> None:
        """The process starts while the engine loads (the model): wait for its port here."""
        if self._ready:
            return
        import select
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode().strip() if r else ""
        if not line.startswith("ready "):
            self.proc.kill()
            raise RuntimeError(f"MIDI sender process failed: {line or 'no reply'}")
        self.name = line[6:] + " (sender process)"
        self._ready = True

    @property
    def early(self) -> float:
        """How early the Scheduler must hand this output its events."""
        return self.lookahead + self.offset

    def _write(self, when: float, data: Any) -> None:
        b = bytes(data)
        rec = _REC.pack(when, len(b), b[:3].ljust(3, b"\0"))
        with self._lock:
            os.write(self._fd, rec)

    def send(self, ev: Any) -> None:
        self._write(-1.0, ev.midi)

    def send_at(self, ev: Any, when: float) -> None:
        self._write(when - self.offset, ev.midi)

    def send_raw(self, data: Any) -> None:
        self._write(-1.0, data)

    def send_raw_at(self, data: Any, when: float) -> None:
        self._write(when - self.offset, data)

    def cancel_pending(self) -> None:
        with self._lock:
            os.write(self._fd, _REC.pack(-1.0, _FLUSH, b"\0\0\0"))

    def close(self) -> None:
        try:
            with self._lock:
                os.write(self._fd, _REC.pack(-1.0, _QUIT, b"\0\0\0"))
            self.proc.wait(5)
        except Exception:
            self.proc.kill()


def sender_main(argv: list[str] | None = None) -> int:
    """The sender process: read (due, bytes) records on stdin, send each at its time."""
    import argparse
    import heapq
    import json
    import select
    import sys

    import rtmidi

    from liveai.io.midi import APIS, client_name, find_port
    ap = argparse.ArgumentParser(prog="python -m liveai.timing.sync")
    ap.add_argument("--api", default="alsa")
    ap.add_argument("--port-name", default="out")
    ap.add_argument("--virtual", action="store_true")
    ap.add_argument("--connect")
    ap.add_argument("--rt", action="store_true")
    ap.add_argument("--stats")
    a = ap.parse_args(argv)
    try:
        client = client_name(a.api, a.port_name)
        out = rtmidi.MidiOut(APIS[a.api], name=client)
        if a.virtual:
            out.open_virtual_port(a.port_name)
            name = f"{client}:{a.port_name} (virtual)"
        else:
            ports = out.get_ports()
            i = find_port(ports, a.connect, "output")
            out.open_port(i, a.port_name)
            name = ports[i]
    except Exception as e:
        print(f"error {e}".replace("\n", " "), flush=True)
        return 2
    if a.rt:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(70))
        except (OSError, AttributeError):
            pass
    import gc
    gc.collect()
    gc.freeze()
    send = out.send_message
    perf = time.perf_counter
    fd = sys.stdin.fileno()
    heap: list[tuple[float, int, list[int]]] = []
    seq = 0
    buf = b""
    # (due, lateness) of each message, kept only when asked for (latency_bench) and bounded: on a
    # stage that runs for hours, a record of every message sent would be a slow leak (~0.5 MB/min).
    lateness: deque[tuple[float, float]] | None = deque(maxlen=STATS_MAX) if a.stats else None
    print(f"ready {name}", flush=True)
    size = _REC.size
    running = True
    while running:
        timeout = None
        if heap:
            timeout = max(0.0, heap[0][0] - perf() - SENDER_SPIN_S)
        r, _, _ = select.select([fd], [], [], timeout)
        if r:
            data = os.read(fd, 65536)
            if not data:
                break
            buf += data
            while len(buf) >= size:
                when, n, b = _REC.unpack_from(buf)
                buf = buf[size:]
                if n == _FLUSH:
                    heap.clear()
                elif n == _QUIT:
                    running = False
                    break
                elif when < 0:
                    send(list(b[:n]))
                else:
                    seq += 1
                    heapq.heappush(heap, (when, seq, list(b[:n])))
        while heap and heap[0][0] - perf() <= SENDER_SPIN_S:
            when = heap[0][0]
            while perf() < when:
                pass
            _, _, msg = heapq.heappop(heap)
            send(msg)
            if lateness is not None:
                lateness.append((when, perf() - when))
    for _, _, msg in heap:  # note-offs still queued go out: nothing is left hanging
        if msg and msg[0] & 0xF0 in (0x80, 0xB0):
            send(msg)
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump({"lateness": list(lateness or ())}, f)
    time.sleep(0.05)  # let JACK/ALSA deliver the last messages
    out.close_port()
    return 0


if __name__ == "__main__":
    raise SystemExit(sender_main())
