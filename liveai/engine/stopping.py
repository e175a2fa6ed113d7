"""Stopping on SIGINT/SIGTERM without ever hanging.

A Python signal handler runs in the main thread between two bytecodes of whatever it was doing,
including another run of the same handler, so it must not take a lock the interrupted code may
hold (threading.Event.set() does: two signals back to back deadlocked the main thread while the
band played on). The handler here only counts, sets a flag and writes one byte to a self-pipe
that the main thread waits on (select), all of which are safe at any moment:

- first signal: an orderly stop (every note closed, the take saved);
- second: hurry (the stop waits less on threads);
- third: quit at once, after a best-effort all-notes-off on the outputs.
"""
from __future__ import annotations

import os
import select
import signal
from typing import Callable

QUIT_STATUS = 130  # as a shell reports a process ended by SIGINT


class Stop:
    """Set by SIGINT/SIGTERM (or a demo's end); the main thread waits on it."""

    def __init__(self) -> None:
        self.signals = 0  # how many stop signals arrived
        self.requested = False
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        self.panic: Callable[[], None] | None = None  # best-effort all-notes-off for the third signal
        self.on_quit: Callable[[], None] = lambda: os._exit(QUIT_STATUS)
        self.on_signal: Callable[[], None] | None = None  # called in the handler: must only set flags

    def install(self) -> None:
        """On the main thread: SIGINT and SIGTERM call handler."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.handler)

    def handler(self, signum: int, frame: object) -> None:
        self.signals += 1
        self.requested = True
        self._wake()
        if self.on_signal is not None:
            self.on_signal()
        if self.signals >= 3:
            self.quit()

    def quit(self) -> None:
        """Best-effort all-notes-off, then exit at once (no joins, no saves: the take's journal
        is recovered at the next start)."""
        try:
            if self.panic is not None:
                self.panic()
        except BaseException:
            pass
        self.on_quit()

    @property
    def hurry(self) -> bool:
        """A second signal came: wait less for threads to end."""
        return self.signals >= 2

    def set(self) -> None:
        """Ask for the stop from any thread (a demo's end)."""
        self.requested = True
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._w, b"\0")
        except OSError:  # the pipe is full: a wake-up is already waiting
            pass

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested (True) or timeout passes (False)."""
        if not self.requested:
            try:
                select.select([self._r], [], [], timeout)
            except InterruptedError:  # a signal: its handler has run, look at the flag
                pass
        try:
            while os.read(self._r, 64):
                pass
        except OSError:
            pass
        return self.requested

    def __del__(self) -> None:  # only once no handler refers to it: a late signal never writes to a reused fd
        for fd in (getattr(self, "_r", -1), getattr(self, "_w", -1)):
            try:
                os.close(fd)
            except OSError:
                pass
