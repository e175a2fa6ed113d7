"""Flood control for OSC: what the OSC server's thread hands to the engine's loop, and how much.

The loop also plans the music, so control work there is bounded: newer values of a waiting
parameter replace it (coalescing), queries are rate-limited, and at most MAX_PENDING messages wait.
A mixin of liveai.control.remote.Control (which calls _init_queue and owns server and clock).
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)

Dest = tuple[str, int]


class ControlQueue:
    """The bounded hand-over from the OSC thread to the engine loop (see the module docstring)."""

    MAX_PENDING = 64  # control messages waiting for the engine loop; a flood beyond is dropped
    QUERY_RATE = 500.0  # answers to queries (get, status, listen) a second, all senders together
    QUERY_BURST = 100.0
    ALWAYS = ("/liveai/panic", "/liveai/stop")  # never coalesced, never dropped
    MAX_LATE = 64  # coalescing messages held over a flood's limit (the newest per key): a few senders' last, not a crowd's
    LATE_RETRY_S = 0.01  # how soon the held ones are tried again

    def _init_queue(self) -> None:
        self._post_lock = threading.Lock()  # the OSC thread posts, the engine loop runs
        self._pending = 0
        self._slots: dict[Any, list] = {}  # coalescing key -> the waiting message's [(fn, args, dest)]
        self._tokens, self._refill = self.QUERY_BURST, self.clock.now()
        self.coalesced = 0  # messages merged into one already waiting
        self.flood_dropped = 0  # dropped: too many waiting, or queries beyond QUERY_RATE
        self._dropped_told = 0  # the count listeners were last told (/liveai/control/dropped)
        # a coalescing message over the limits is held, the newest per key, and tried again soon:
        # the last of a burst (a fader's final value, a sender's last query) is never lost
        self._late: dict[Any, tuple[Dest, str, Callable[..., Any], tuple, bool]] = {}
        self._late_timer = False

    def post(self, dest: Dest, path: str, fn: Callable[..., Any], *args: Any,
             coalesce: Any = None, query: bool = False) -> None:
        """Run fn on the engine's loop; a ValueError goes back to the sender as /liveai/error.

        The loop also plans the music, so control work there is bounded (latency_bench.soak
        measured a flood of /liveai/status taking half the loop and steps handed over 250 ms late):
        - coalesce: a key (a parameter; a query and its sender); while a message with the same
          key waits, a newer one replaces its arguments (a fader at 1 kHz sets the latest value once
          per loop turn; a sender asking twice gets one answer);
        - query: answers are also limited to QUERY_RATE a second, beyond which they are dropped;
        - at most MAX_PENDING wait at once. Panic and stop always get through."""
        lock = self._post_lock
        with lock:
            if coalesce is not None:
                slot = self._slots.get(coalesce)
                if slot is not None:  # one is already waiting: it runs with these arguments
                    slot[0] = (fn, args, dest)
                    self.coalesced += 1
                    return
            if path not in self.ALWAYS:
                if query:
                    now = self.clock.now()
                    self._tokens = min(self.QUERY_BURST, self._tokens + (now - self._refill) * self.QUERY_RATE)
                    self._refill = now
                    if self._tokens < 1.0:
                        self._hold(dest, path, fn, args, coalesce, query)
                        return
                    self._tokens -= 1.0
                if self._pending >= self.MAX_PENDING:
                    self._hold(dest, path, fn, args, coalesce, query)
                    return
            if coalesce is not None and self._late.pop(coalesce, None) is not None:
                self.coalesced += 1  # this newer one runs: the held one is merged into it
            self._pending += 1
            slot = [(fn, args, dest)]
            if coalesce is not None:
                self._slots[coalesce] = slot

        def run() -> None:
            with lock:
                self._pending -= 1
                if coalesce is not None:
                    self._slots.pop(coalesce, None)
                fn_, args_, dest_ = slot[0]
            try:
                fn_(*args_)
            except ValueError as e:
                self.server.error(dest_, f"{path}: {e}")
            except Exception as e:
                log.exception("OSC %s failed", path)
                self.server.error(dest_, f"{path}: internal error {type(e).__name__}")
        self.clock.call_soon(run)

    def _hold(self, dest: Dest, path: str, fn: Callable[..., Any], args: tuple, coalesce: Any,
              query: bool) -> None:
        """Over a limit (called under the lock): a coalescing message is held for a retry, the
        newest per key (the one it replaces counts as dropped); any other is dropped."""
        if coalesce is None or (coalesce not in self._late and len(self._late) >= self.MAX_LATE):
            self._flood(path)
            return
        if self._late.pop(coalesce, None) is not None:
            self._flood(path)
        self._late[coalesce] = (dest, path, fn, args, query)
        if not self._late_timer:
            self._late_timer = True
            self.clock.call_at(self.clock.now() + self.LATE_RETRY_S, self._retry_late)

    def _retry_late(self) -> None:
        """On the loop: post the held messages again (each may be held once more, until the
        flood's limits let it through)."""
        with self._post_lock:
            late, self._late, self._late_timer = self._late, {}, False
        for key, (dest, path, fn, args, query) in late.items():
            self.post(dest, path, fn, *args, coalesce=key, query=query)

    def push_dropped(self) -> None:
        """/liveai/control/dropped to every listener when the count grew (the engine loop, per beat):
        what this queue dropped and what the OSC server's flood limit dropped for good."""
        n = self.flood_dropped + getattr(self.server, "rate_dropped", 0)
        if n == self._dropped_told:
            return
        self._dropped_told = n
        for dest in {d for ds in self.listeners.values() for d in ds}:
            self.server.reply(dest, "/liveai/control/dropped", n)

    def _flood(self, path: str) -> None:
        self.flood_dropped += 1
        if self.flood_dropped in (1, 1000) or self.flood_dropped % 100_000 == 0:
            log.warning("OSC control flood: %d messages dropped so far (latest %s)", self.flood_dropped, path)
