"""The faults on stage now (issue 29): what went, since when, and when it came back.

The watchers (JACK server, synth, hot-plug ports) run on their own threads; the live view and
/liveai/error read from another. One small locked record keeps them agreeing on what is wrong now,
so a fault is said once when it starts and once when it clears, not on every poll.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class Fault:
    what: str  # the thing that went: "jack", "synth", "midi out"
    message: str  # one line for a musician
    since: float  # time.monotonic() when it went
    cleared: float | None = None  # when it came back (None while it is still down)


class Faults:
    """A thread-safe record of the current faults; listeners hear each raise and each clear once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._now: dict[str, Fault] = {}
        self.history: list[Fault] = []
        self.clock = clock
        self.listeners: list[Callable[[Fault], None]] = []

    def raise_(self, what: str, message: str) -> bool:
        """Record a fault; True when it is new (a repeat of a current one is not said again)."""
        with self._lock:
            if what in self._now:
                return False
            f = Fault(what, message, self.clock())
            self._now[what] = f
            self.history.append(f)
        self._tell(f)
        return True

    def clear(self, what: str) -> bool:
        """The thing came back; True when it was down."""
        with self._lock:
            f = self._now.pop(what, None)
            if f is None:
                return False
            f.cleared = self.clock()
        self._tell(f)
        return True

    def current(self) -> list[Fault]:
        with self._lock:
            return sorted(self._now.values(), key=lambda f: f.since)

    def line(self) -> str | None:
        """The live view's FAULT line, or None when nothing is down."""
        now = self.current()
        if not now:
            return None
        t = self.clock()
        return "FAULT  " + "; ".join(f"{f.message} ({t - f.since:.0f} s)" for f in now)

    def _tell(self, f: Fault) -> None:
        for cb in list(self.listeners):
            try:
                cb(f)
            except Exception:  # a listener that fails must not take the watcher down
                pass


_faults = Faults()


def faults() -> Faults:
    """The process's one record (the watchers and the views share it)."""
    return _faults
