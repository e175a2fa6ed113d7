"""MIDI clock out (`--clock-out PORT`), derived from the transport's beat position.

Pulse n is due at the time of beat n / 24; any pulse that is due and was not sent goes at once,
on the sender's clock, never from a sleep loop of its own; Start (or Song Position + Continue
mid-song) when the transport starts, Stop when it stops.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Callable

from liveai.timing.clock import Clock, Timer
from liveai.timing.follow import CLOCK, CONTINUE, PPQ, PULSE_TICKS, SONGPOS, START, STOP, PULSES_PER_STEP  # noqa: F401
from liveai.timing.transport import Transport

log = logging.getLogger(__name__)


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
