"""The sender: emits planned events at their time, on a clock of its own.

On stage the sender's RealtimeClock runs in its own thread and spins the last moment before each
deadline, so the engine's Python work (planning, model glue, OSC parsing) never makes a note late;
the entry point also shortens the GIL switch interval (sys.setswitchinterval; latency_bench measures what it buys). In tests the same
Scheduler runs on the engine's SimClock.
"""
from __future__ import annotations

import logging
import threading
import itertools
from collections import deque
from contextlib import ExitStack
from typing import Callable, Iterable, Sequence

from liveai.timing.clock import Clock, Timer
from liveai.io.output import NOTE_OFF, NOTE_ON, NoteTracker, OutEvent, OutputDevice

log = logging.getLogger(__name__)

ADMIT_LOG = 512  # admissions remembered to tell whether a step handed ahead can still be rewritten


class PendingEvents:
    """Events handed to the sender that may be amended until it sends them (amend() tells which).

    Where an output takes its events ahead of time and can still rewrite them (the sender
    process), the step is handed to it early (`device`, `admitted`: what the note tracker let
    through then) and stays amendable there until it goes out."""

    __slots__ = ("events", "sent", "lock", "when", "scheduler", "id", "device", "admitted", "prior", "gen")

    def __init__(self, events: list[OutEvent], when: float = 0.0, scheduler: "Scheduler | None" = None,
                 step_id: int = 0) -> None:
        self.events = events
        self.sent = False
        self.lock = threading.Lock()
        self.when, self.scheduler, self.id = when, scheduler, step_id
        self.device: OutputDevice | None = None
        self.admitted: list[OutEvent] | None = None
        self.prior: dict = {}  # the tracker's state of this step's notes before it was admitted
        self.gen = 0  # when it was admitted (Scheduler._gen)

    def amend(self, events: list[OutEvent]) -> bool:
        """Replace the events if they have not been sent yet; False if it is too late."""
        if self.scheduler is not None:
            return self.scheduler.amend([(self, events)])
        with self.lock:
            if self.sent:
                return False
            self.events = events
            return True


def _note_keys(events: Iterable[OutEvent]) -> set[tuple[int, int]]:
    return {(ev.channel, ev.data1) for ev in events if ev.kind in (NOTE_ON, NOTE_OFF)}


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
        self._ids = itertools.count(1)
        self._gen = 0  # counts admissions to the tracker; _admits logs the notes each one touched
        self._admits: deque[tuple[int, frozenset | None]] = deque(maxlen=ADMIT_LOG)

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

    def at_amendable(self, when: float, events: Sequence[OutEvent]) -> PendingEvents:
        """As at(), but the engine may still amend the events until the sender takes them (a chord
        the player strikes just before the step replaces what was planned, with no flam). With
        outputs that take events early, the step is handed over at the earliest send and stays
        amendable if that output can rewrite it (the sender process); otherwise it is fixed then."""
        p = PendingEvents(list(events), when, self, next(self._ids))
        if self.early:
            groups: dict[float, list[OutputDevice]] = {}
            for dev in self.outputs:
                groups.setdefault(self.early.get(id(dev), 0.0), []).append(dev)
            for early, devs in sorted(groups.items(), reverse=True):
                self._pending.add(self.clock.call_at(when - early, self._fire_group, p, early, devs))
            self._pending.add(self.clock.call_at(when, self._settle, p))
            return p
        t = self.clock.call_at(when, self._emit_pending, p, when)
        self._pending.add(t)
        return p

    def _emit_pending(self, p: PendingEvents, when: float) -> None:
        with p.lock:
            p.sent = True
            events = p.events
        self._emit(events, when)

    def amends_ahead(self) -> bool:
        """Every output that takes events early can still rewrite them (or none takes them early):
        a step stays amendable until it is due."""
        return all(getattr(d, "amendable", False) for d in self.outputs if self.early.get(id(d)))

    def _admit(self, events: Sequence[OutEvent]) -> tuple[list[OutEvent], int]:
        """Events through the tracker, logged by the notes they touched (call with the lock held)."""
        self._gen += 1
        self._admits.append((self._gen, frozenset(_note_keys(events))))
        return [ev for ev in events if self.tracker.admit(ev)], self._gen

    def _fire_group(self, p: PendingEvents, early: float, devs: list[OutputDevice]) -> None:
        """One group of outputs (those with the same latency offset) gets a step's events. The
        first admits them; an amendable output alone in it holds them, still rewritable."""
        at = p.when - early
        self.lateness.append(self.clock.now() - at)
        self._forget_fired(at)
        with self._lock:
            with p.lock:
                if p.admitted is None:
                    p.prior = self.tracker.values(_note_keys(p.events))
                    p.admitted, p.gen = self._admit(p.events)
                events = p.admitted
                hold = (early > 0 and not p.sent and p.device is None and len(devs) == 1
                        and getattr(devs[0], "amendable", False))
                if hold:
                    p.device = devs[0]
                else:
                    p.sent = True  # an output that cannot rewrite it has it now (the take, OSC at the due time too)
            if hold:
                try:
                    devs[0].hand(p.id, events, p.when)
                except Exception as e:
                    p.sent = True
                    if devs[0].name not in self._failed:
                        self._failed.add(devs[0].name)
                        log.error("output %s failed: %s (further errors from it are quiet)", devs[0].name, e)
            else:
                self._send(events, devs, False, p.when)

    def _settle(self, p: PendingEvents) -> None:
        """A step handed over early is due: it can no longer change; the listeners hear it."""
        self._forget_fired(p.when)
        with self._lock:
            with p.lock:
                p.sent = True
                events = p.admitted or []
            now = self.clock.now()
            for ev in events:
                for fn in self.listeners:
                    fn(now, ev)

    def amend(self, pairs: Sequence[tuple[PendingEvents, list[OutEvent]]]) -> bool:
        """Replace the events of one or more pending steps (a SplitHandle's two sends), all or none:
        False if any has gone out. A step already handed to an output ahead of time is rewritten
        there (its tracker admission redone for the new events); that needs nothing admitted since
        to have touched its notes, and the output's answer that it had not sent it yet."""
        with self._lock, ExitStack() as stack:
            for p, _ in pairs:
                stack.enter_context(p.lock)
            if any(p.sent for p, _ in pairs):
                return False
            handed = sorted((pair for pair in pairs if pair[0].device is not None), key=lambda pr: pr[0].gen)
            if handed:
                dev = handed[0][0].device
                if any(p.device is not dev for p, _ in handed) or not self._untouched_since(handed):
                    for p, _ in handed:
                        p.sent = True  # it stays as handed over: the engine ends what it does not
                    return False
                before = self.tracker.values(set().union(*(_note_keys(p.events) | _note_keys(new) for p, new in handed)))
                for p, _ in reversed(handed):
                    self.tracker.restore(p.prior)
                redone = []
                for p, new in handed:
                    prior = self.tracker.values(_note_keys(new))
                    admitted = [ev for ev in new if self.tracker.admit(ev)]
                    redone.append((p, prior, admitted, new))
                try:
                    ok = dev.replace([(p.id, admitted, p.when) for p, _, admitted, _ in redone])
                except Exception as e:  # the output is gone: what it had went out, or never will
                    log.error("rewriting a step on %s failed: %s", dev.name, e)
                    ok = False
                if not ok:
                    self.tracker.restore(before)
                    for p, _ in handed:
                        p.sent = True  # it went out as it was
                    return False
                for p, prior, admitted, new in redone:
                    p.prior, p.admitted = prior, admitted
                    self._admits.append((p.gen, frozenset(_note_keys(new))))
            for p, new in pairs:
                p.events = list(new)
            return True

    def _untouched_since(self, handed: Sequence[tuple[PendingEvents, list[OutEvent]]]) -> bool:
        """No admission since the first of these steps (other than theirs) touched their notes:
        only then can their admission be undone and redone (a reactive note on the same key, or a
        panic, in between: the step stays as it was)."""
        first = handed[0][0].gen
        own = {p.gen for p, _ in handed}
        keys = set().union(*(_note_keys(p.events) | _note_keys(new) for p, new in handed))
        if not self._admits or self._admits[0][0] > first:
            return False  # the log no longer reaches back that far
        for gen, touched in self._admits:
            if gen > first and gen not in own and (touched is None or touched & keys):
                return False
        return True

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
            admitted, _ = self._admit(events)
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
            self._gen += 1
            self._admits.append((self._gen, None))  # every note touched: nothing handed ahead is rewritten after it
            self._send(self.tracker.release_all())

    def _emit(self, events: Sequence[OutEvent], when: float | None) -> None:
        if when is not None:
            self.lateness.append(self.clock.now() - when)
            self._forget_fired(when)
        with self._lock:
            admitted, _ = self._admit(events)
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
