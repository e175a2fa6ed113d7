"""Following MIDI clock: 24 pulses a quarter note, start, stop, continue, song position.

Each pulse is stamped on arrival; a least-squares line through the last beat of pulses (24) gives
the period (the tempo) and the fitted time of the newest pulse, and the engine's grid is
re-anchored there on every pulse (Engine.retime). The pulse count is exact, so phase error cannot
accumulate (no drift), jitter in arrival times is averaged over a beat, and a tempo change has
left the window entirely one beat later.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Any

import mido

from liveai.timing.clock import Timer
from liveai.music.meter import TICKS_PER_BEAT
from liveai.vocab import clamp_tempo

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
