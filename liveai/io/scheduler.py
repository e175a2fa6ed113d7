"""The sender: emits planned events at their time, on a clock of its own.

On stage the sender's RealtimeClock runs in its own thread and spins the last moment before each
deadline, so the engine's Python work (planning, model glue, OSC parsing) never makes a note late;
the entry point also shortens the GIL switch interval (sys.setswitchinterval; latency_bench measures what it buys). In tests the same
Scheduler runs on the engine's SimClock.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Callable, Iterable, Sequence

from liveai.timing.clock import Clock, Timer
from liveai.io.output import NoteTracker, OutEvent, OutputDevice

log = logging.getLogger(__name__)


class PendingEvents:
    """Events handed to the sender that may be amended until it sends them (amend() tells which)."""

    __slots__ = ("events", "sent", "lock")

    def __init__(self, events: list[OutEvent]) -> None:
        self.events = events
        self.sent = False
        self.lock = threading.Lock()

    def amend(self, events: list[OutEvent]) -> bool:
        """Replace the events if they have not been sent yet; False if it is too late."""
        with self.lock:
            if self.sent:
                return False
            self.events = events
            return True


class Scheduler:
    """Owns the outputs and the truth of what is sounding on them."""

    def __init__(self, clock: Clock, outputs: Sequence[OutputDevice] = ()) -> None:
        self.clock = clock
        self.outputs: list[OutputDevice] = list(outputs)
        self.tracker = NoteTracker()
        self.lateness: deque[float] = deque(maxlen=20_000)  # the last ~20 min (latency_bench reads it); bounded
        self.listeners: list[Callable[[float, OutEvent], None]] = []
        self._pending: set[Timer] = set()
        self._failed: set[str] = set()
        self.early: dict[int, float] = {}  # id(output) -> seconds it gets events early (latency compensation)
        # real time: the reactive path (now()) sends in the calling thread (the engine loop) instead
        # of waking the sender's loop first: one thread hand-over less (issue 16 part 4). The lock
        # keeps the sender's loop and the caller from sending (and admitting) at the same time.
        self.direct_now = False
        self._lock = threading.RLock()

    def set_latency(self, device: OutputDevice, seconds: float) -> None:
        """Latency compensation: planned events reach `device` `seconds` before their time, so that
        they sound on the beat at a synth that needs that long (isobar's added_latency_seconds)."""
        if not 0.0 <= seconds <= 0.5:
            raise ValueError(f"latency offset must be 0..500 ms, not {seconds * 1000:g} ms")
        if seconds:
            self.early[id(device)] = seconds
        else:
            self.early.pop(id(device), None)

    def at(self, when: float, events: Sequence[OutEvent]) -> Timer:
        """Emit events (in order) at clock time when (earlier to outputs with a latency offset)."""
        if self.early:
            return self._at_early(when, events)
        t = self.clock.call_at(when, self._emit, events, when)
        self._pending.add(t)
        return t

    def at_amendable(self, when: float, events: Sequence[OutEvent]) -> "PendingEvents":
        """As at(), but the engine may still amend the events until the sender takes them (a chord
        the player strikes just before the step replaces what was planned, with no flam)."""
        p = PendingEvents(list(events))
        if self.early:  # per-output offsets: handed on at the earliest send, not amendable
            p.sent = True
            self._at_early(when, events)
            return p
        t = self.clock.call_at(when, self._emit_pending, p, when)
        self._pending.add(t)
        return p

    def _emit_pending(self, p: "PendingEvents", when: float) -> None:
        with p.lock:
            p.sent = True
            events = p.events
        self._emit(events, when)

    def _at_early(self, when: float, events: Sequence[OutEvent]) -> Timer:
        """What is sounding is decided once, at the earliest send; each output then gets the
        admitted events at its own time (when - its offset)."""
        groups: dict[float, list[OutputDevice]] = {}
        for dev in self.outputs:
            groups.setdefault(self.early.get(id(dev), 0.0), []).append(dev)
        lead = max(groups)
        t = self.clock.call_at(when - lead, self._emit_groups, events, when, groups)
        self._pending.add(t)
        return t

    def _emit_groups(self, events: Sequence[OutEvent], when: float,
                     groups: dict[float, list[OutputDevice]]) -> None:
        lead = max(groups)
        self.lateness.append(self.clock.now() - (when - lead))
        self._forget_fired(when - lead)
        with self._lock:
            admitted = [ev for ev in events if self.tracker.admit(ev)]
        for early, devs in sorted(groups.items(), reverse=True):
            last = early == min(groups)  # listeners hear each event once, at its latest send
            if early == lead:
                with self._lock:
                    self._send(admitted, devs, last, when)
            else:
                t = self.clock.call_at(when - early, self._send_late, admitted, devs, when, early, last)
                self._pending.add(t)

    def _send_late(self, events: list[OutEvent], devs: list[OutputDevice], when: float, early: float,
                   notify: bool) -> None:
        self.lateness.append(self.clock.now() - (when - early))
        self._forget_fired(when - early)
        with self._lock:
            self._send(events, devs, notify, when)

    def now(self, events: Sequence[OutEvent]) -> None:
        """Emit events as soon as possible (the reactive path)."""
        if self.direct_now:
            self._emit(events, None)
        else:
            self.clock.call_soon(self._emit, events, None)

    def cancel_pending(self) -> None:
        for t in list(self._pending):
            t.cancel()
        self._pending.clear()
        for dev in self.outputs:
            if getattr(dev, "timed", False):
                dev.cancel_pending()  # what it holds to send later goes too

    def release_all(self) -> None:
        """On the sender's loop: drop what is planned, close every sounding note, CC123."""
        self.clock.call_soon(self.release_all_now)

    def release_all_now(self) -> None:
        """Same, at once, in the calling thread (for shutdown, once the sender loop is stopped)."""
        with self._lock:
            self.cancel_pending()
            self._send(self.tracker.release_all())

    def _emit(self, events: Sequence[OutEvent], when: float | None) -> None:
        if when is not None:
            self.lateness.append(self.clock.now() - when)
            self._forget_fired(when)
        with self._lock:
            admitted = [ev for ev in events if self.tracker.admit(ev)]
            self._send(admitted)

    def _forget_fired(self, when: float) -> None:
        """Drop the pending timers due by `when` (they have fired); they are few, one a step."""
        for t in list(self._pending):
            if t.when <= when:
                self._pending.discard(t)

    def _send(self, events: Iterable[OutEvent], devices: Sequence[OutputDevice] | None = None,
              notify: bool = True, due: float | None = None) -> None:
        """Every event to each device in turn (the MIDI port first: the outputs are in that order),
        a device that takes a batch in one call (the sender process: one write, one wake-up) with
        all of them, and only then the listeners: a chord's last note never waits behind the
        first note's OSC copies."""
        now = self.clock.now()
        events = list(events)
        if not events:
            return
        for dev in self.outputs if devices is None else devices:
            timed = due is not None and getattr(dev, "timed", False)
            batch = None if timed or len(events) == 1 else getattr(dev, "send_many", None)
            for ev in (events if batch is None else (None,)):
                try:
                    if batch is not None:
                        batch(events)
                    elif timed:
                        dev.send_at(ev, due)  # a device that sends at the time itself (liveai.io.sender)
                    else:
                        dev.send(ev)
                except Exception as e:  # a vanished port or unreachable host must not stop the music
                    if dev.name not in self._failed:
                        self._failed.add(dev.name)
                        log.error("output %s failed: %s (further errors from it are quiet)", dev.name, e)
        if notify:
            for ev in events:
                for fn in self.listeners:
                    fn(now, ev)

    def close(self) -> None:
        for dev in self.outputs:
            try:
                dev.close()
            except Exception as e:
                log.warning("closing %s: %s", dev.name, e)
